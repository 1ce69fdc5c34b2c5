"""The end of a distributed run: every rank waits for the others, then the process group is destroyed.

A run launched with ``torchrun`` / ``accelerate launch`` gets its process group from accelerate. Left to the
interpreter's exit, the group is torn down while Python is shutting down: DDP's reducer and FSDP's state still
hold it, gloo's worker threads may still hold tensors, and releasing those then can abort the process
(``terminate called without an active exception``, exit -6) after all the work is done. So, once a command
has succeeded, :func:`close_process_group` frees the wrappers that are no longer referenced, waits for every
rank and destroys the group while the interpreter is fully alive. It is not called after an error: a rank
that failed must not wait in a barrier the others never reach.
"""

from __future__ import annotations

import gc
import sys


def close_process_group() -> bool:
    """Barrier, then destroy the default process group if one is up; ``True`` when one was destroyed.

    Imports nothing: a command that never imported torch has no process group to close."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return False
    gc.collect()            # trainers and wrapped models of the finished command hold the group: free them now
    dist.barrier()          # no rank destroys the group while another still uses it
    dist.destroy_process_group()
    return True

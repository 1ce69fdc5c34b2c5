"""The end of a distributed run: the process group is closed by the command, not by the interpreter's exit."""

from __future__ import annotations

import weakref

import torch
import torch.distributed as dist

from balancedbio.process_group import close_process_group


def test_close_process_group_frees_the_wrapper_and_destroys_the_group(tmp_path):
    assert close_process_group() is False              # nothing to close
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ddp = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 2))
        ddp(torch.ones(1, 3)).sum().backward()
        ddp.self_ref = ddp                               # a cycle: only the collector frees it
        alive = weakref.ref(ddp)
        del ddp
        assert alive() is not None
        assert close_process_group() is True
        assert alive() is None                           # the wrapper went before the group
        assert not dist.is_initialized()
        assert close_process_group() is False
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_cli_closes_the_group_after_a_successful_command(tmp_path, isolated_home):
    from balancedbio import cli

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert cli.main(["models", "--json"]) == 0
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()

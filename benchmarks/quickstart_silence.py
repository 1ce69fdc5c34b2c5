"""The quickstart as a new user runs it, timed, with the longest silence on its terminal measured.

Runs ``balancedbio run configs/quickstart.yaml`` in a fresh process with a fresh ``$BALANCEDBIO_HOME``
(so the knowledge-graph build and the model conversion are included), reads its merged stdout/stderr
as it comes (tqdm redraws included) and records:

* the wall clock of the whole run and each stage's seconds from its manifest;
* every gap of more than 10 s between two pieces of output, with the text printed just before it;
* the 1-minute load average every 15 s (the machine may be shared: wall-clock figures depend on it),
  and the process's own CPU time.

    python benchmarks/quickstart_silence.py --output benchmarks/results/quickstart_silence.json
    python benchmarks/quickstart_silence.py --home ~/.cache/balancedbio ...   # a warm cache instead
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import resource
import selectors
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", required=True, help="results JSON")
    ap.add_argument("--home", default=None, help="$BALANCEDBIO_HOME (default: a fresh temporary one)")
    ap.add_argument("--recipe", default=str(REPO / "configs" / "quickstart.yaml"))
    ap.add_argument("--gap", type=float, default=10.0, help="report silences longer than this (s)")
    ap.add_argument("overrides", nargs="*", help="KEY=VALUE recipe overrides")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bb-quickstart-") as tmp:
        home = args.home or str(Path(tmp) / "home")
        run_dir = Path(tmp) / "run"
        env = {**os.environ, "BALANCEDBIO_HOME": home, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "balancedbio", "run", args.recipe, "--output", str(run_dir), *args.overrides]
        loads: list[tuple[float, float]] = []
        stop = threading.Event()
        t0 = time.perf_counter()

        def sample() -> None:
            while not stop.is_set():
                loads.append((round(time.perf_counter() - t0, 1), _load()))
                stop.wait(15)

        threading.Thread(target=sample, daemon=True).start()
        # a pseudo-terminal, so the run prints exactly what a user's terminal shows (tqdm redraws too)
        master, slave = pty.openpty()
        # a terminal size, as a real terminal has (without one tqdm draws zero-width, empty bars)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        sel = selectors.DefaultSelector()
        sel.register(master, selectors.EVENT_READ)
        last, tail, gaps, log = time.perf_counter(), b"", [], bytearray()
        while True:
            if not sel.select(timeout=1.0):
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            now = time.perf_counter()
            if now - last > args.gap:
                before = tail.decode(errors="replace").replace("\r", "\n").strip().splitlines()
                gaps.append({"at_s": round(last - t0, 1), "seconds": round(now - last, 1),
                             "after": before[-1][-160:] if before else ""})
            last, tail = now, (tail + chunk)[-400:]
            log += chunk
            sys.stdout.write(chunk.decode(errors="replace"))
            sys.stdout.flush()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        stop.set()
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        stages = {}
        for manifest in sorted((run_dir / "stages").glob("*/manifest.json")):
            m = json.loads(manifest.read_text())
            stages[m.get("stage", manifest.parent.name)] = m.get("seconds")
    result = {
        "command": " ".join(["balancedbio", "run", os.path.relpath(args.recipe, REPO), "--output", "RUN",
                             *args.overrides]),
        "fresh_home": args.home is None, "returncode": rc, "wall_seconds": round(wall, 1),
        "child_cpu_seconds": round(cpu.ru_utime + cpu.ru_stime, 1), "stage_seconds": stages,
        "silences_over_s": args.gap, "silences": gaps,
        "longest_silence_s": max((g["seconds"] for g in gaps), default=0.0),
        "load_1min_samples": loads,
        "load_1min_mean": round(sum(v for _, v in loads) / max(len(loads), 1), 2),
        "machine": f"{platform.machine()} {os.cpu_count()} CPU cores (shared with other jobs), "
                   f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("returncode", "wall_seconds", "longest_silence_s",
                                              "load_1min_mean")}))
    return rc


if __name__ == "__main__":
    sys.exit(main())

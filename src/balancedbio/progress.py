"""No long silences: what a command is doing, and a heartbeat line when a step runs long.

* :func:`phase` names the step that starts now (``"grpo step 2/3: generating 16 completions"``) and prints
  it as one line on stderr (through ``tqdm.write``, so it never breaks a progress bar); :func:`step` does
  the same for the length of a block, then names the enclosing phase again;
* :func:`heartbeat` (a context manager around a whole command or stage) runs a daemon thread that, when
  nothing has been printed for ``every`` seconds (no :func:`phase`, no :func:`track` update, no tqdm bar
  refresh), prints ``"  ... <phase>: still working, 42 s (stage 3 min 5 s)"``;
* :func:`track` wraps an iterable in a tqdm bar (done / total, rate, ETA) that counts as activity.

The CLI runs every verb but ``chat`` inside one :func:`heartbeat`; in library use nothing repeats unless
the caller opens one. ``BALANCEDBIO_HEARTBEAT=0`` turns the heartbeat off (a number sets its interval in
seconds; default 10). Under ``torchrun`` only rank 0 beats.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["activity", "current_phase", "heartbeat", "phase", "step", "track"]

T = TypeVar("T")
DEFAULT_EVERY = 10.0

_lock = threading.Lock()
_state: dict[str, Any] = {"phase": None, "phase_t": 0.0, "last": 0.0, "active": False}


def _now() -> float:
    return time.monotonic()


def _write(line: str, stream: Any = None) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=stream or sys.stderr)
    with contextlib.suppress(Exception):
        (stream or sys.stderr).flush()


def activity() -> None:
    """Note that something visible just happened (resets the heartbeat's clock)."""
    with _lock:
        _state["last"] = _now()


def phase(text: str, *, echo: bool = True, stream: Any = None) -> None:
    """Start a named step: remember it for the heartbeat and print it (``echo``) as one line."""
    with _lock:
        _state["phase"], _state["phase_t"] = text, _now()
    if echo:
        _write(f"  {text}", stream)
    activity()


@contextlib.contextmanager
def step(text: str, *, echo: bool = True, stream: Any = None) -> Iterator[None]:
    """A :func:`phase` for the length of a block; afterwards the heartbeat names the enclosing phase
    again (so it never reports a finished step as still running)."""
    with _lock:
        outer = (_state["phase"], _state["phase_t"])
    phase(text, echo=echo, stream=stream)
    try:
        yield
    finally:
        with _lock:
            _state["phase"], _state["phase_t"] = outer
        activity()


def current_phase() -> str | None:
    return _state["phase"]


def _fmt_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def _bars_fresh(now: float, every: float) -> bool:
    """True when a live tqdm bar was redrawn within ``every`` seconds (it shows progress itself)."""
    from tqdm import tqdm

    bars = list(getattr(tqdm, "_instances", ()) or ())
    for bar in bars:
        last = getattr(bar, "last_print_t", None)
        if last is None:
            continue
        # tqdm stamps last_print_t with its own timer (time.time by default)
        timer = getattr(bar, "_time", time.time)
        if timer() - last < every:
            return True
    return False


def _interval(every: float | None) -> float | None:
    env = os.environ.get("BALANCEDBIO_HEARTBEAT")
    if env is not None and env.strip():
        try:
            value = float(env)
        except ValueError:
            value = DEFAULT_EVERY
        return None if value <= 0 else value
    return DEFAULT_EVERY if every is None else every


@contextlib.contextmanager
def heartbeat(what: str, *, every: float | None = None, stream: Any = None) -> Iterator[None]:
    """While the block runs, print a heartbeat line whenever ``every`` seconds pass with no output."""
    interval = _interval(every)
    stream = stream or sys.stderr  # the real stderr, even if a library redirects it later
    if os.environ.get("RANK", "0") != "0":
        interval = None
    if interval is None:
        yield
        return
    start = _now()
    with _lock:
        saved = dict(_state)
        nested = bool(_state.get("active"))
        _state.update(phase=what, phase_t=start, last=start, active=True)
    if nested:  # one heartbeat thread per process: an inner block only names the phase
        try:
            yield
        finally:
            with _lock:
                _state.update(phase=saved["phase"], phase_t=saved["phase_t"])
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(min(interval, 1.0) if interval >= 1.0 else interval / 2):
            now = _now()
            with _lock:
                quiet = now - _state["last"]
                text, since = _state["phase"] or what, _state["phase_t"]
            if quiet < interval or _bars_fresh(time.time(), interval):
                continue
            extra = f" ({what} {_fmt_seconds(now - start)})" if text != what else ""
            _write(f"  ... {text}: still working, {_fmt_seconds(now - since)}{extra}", stream)
            activity()

    thread = threading.Thread(target=beat, name="balancedbio-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
        with _lock:
            _state.update(saved)


class _Tracked:
    def __init__(self, bar: Any):
        self.bar = bar

    def __iter__(self) -> Iterator[Any]:
        for item in self.bar:
            activity()
            yield item

    def __len__(self) -> int:
        return len(self.bar)


def track(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it",
          disable: bool = False, **tqdm_kwargs: Any) -> Iterable[T]:
    """``iterable`` with a tqdm bar (done / total, rate, ETA) on stderr; each item counts as activity."""
    from tqdm import tqdm

    tqdm_kwargs.setdefault("file", sys.stderr)
    bar = tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable, dynamic_ncols=True, **tqdm_kwargs)
    return _Tracked(bar)

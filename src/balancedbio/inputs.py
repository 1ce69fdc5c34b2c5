"""Checks on the user's input and output paths, run before any expensive work.

Each check raises a :class:`~balancedbio.errors.BalancedBioError` whose one-line message names the path
(and the line, for text files); the CLI prints it and exits 2. Nothing here writes anything that stays:
the writability probe creates and removes one empty temporary directory.

* :func:`require_file` / :func:`check_text_file`: an input file exists, is a file and is UTF-8 text
  ("file not found: PATH", "PATH:LINE: not UTF-8 text"). A UTF-8 byte-order mark at the start of a file
  is accepted and dropped everywhere (:func:`decode_line`; CSV readers open with ``utf-8-sig``).
* :func:`check_output_dir` / :func:`check_output_file`: an output can be created where asked (its
  parents are directories we may write in, it is not a file where a directory is wanted and the other
  way round) and an existing one is refused unless ``force``.
* :func:`check_safetensors`: every ``.safetensors`` file of a checkpoint has a complete header and data
  (read with the ``safetensors`` library; a truncated copy is one line, not a traceback).
* :func:`looks_like_local_path`: a string that names a local file (``data/train.jsonl``,
  ``runs/x/final``) is never sent to the hub as a dataset or model id.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from balancedbio.errors import DataError, ModelError, OutputError

__all__ = ["BOM", "check_output_dir", "check_output_file", "check_safetensors", "check_text_file",
           "decode_line", "iter_text_lines", "looks_like_local_path", "require_file"]

BOM = b"\xef\xbb\xbf"
# suffixes that name a local file, never a hub id
_LOCAL_SUFFIXES = {".jsonl", ".json", ".csv", ".tsv", ".parquet", ".arrow", ".txt", ".yaml", ".yml",
                   ".gguf", ".safetensors", ".gz", ".zst"}


def looks_like_local_path(spec: str | os.PathLike) -> bool:
    """True when ``spec`` names a local path rather than a hub id ``owner/name``.

    That is: it starts with ``.``, ``/`` or ``~``, has a data or weights file suffix, has more than one
    ``/``, or its first component is an existing local directory (``runs/x`` when ``runs/`` exists).
    """
    text = str(spec)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        return True
    if Path(text).suffix.lower() in _LOCAL_SUFFIXES:
        return True
    return text.count("/") == 1 and Path(text.split("/", 1)[0]).is_dir()


def require_file(path: str | os.PathLike, *, what: str = "file") -> Path:
    """``path`` as a Path if it is an existing file; else one line: "file not found: PATH" or why not."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected a {what}")
    if p.exists():
        raise DataError(f"{p}: not a regular {what}")
    raise DataError(f"file not found: {p}")


def decode_line(raw: bytes, path: str | os.PathLike, lineno: int) -> str:
    """Decode one line of a text file as UTF-8 (a BOM on line 1 is dropped); one-line error otherwise."""
    if lineno == 1 and raw.startswith(BOM):
        raw = raw[len(BOM):]
    if b"\x00" in raw:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (binary data: NUL byte)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                        f"{exc.start + 1})") from None


def iter_text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` of a UTF-8 text file (BOM accepted); one-line errors otherwise."""
    p = require_file(path, what="text file")
    try:
        handle = p.open("rb")
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc.strerror})") from None
    with handle:
        for lineno, raw in enumerate(handle, 1):
            yield lineno, decode_line(raw, p, lineno)


def check_text_file(path: str | os.PathLike) -> Path:
    """Read ``path`` through once: it must exist and be UTF-8 text (a leading BOM is fine)."""
    p = require_file(path, what="text file")
    for _ in iter_text_lines(p):
        pass
    return p


# --------------------------------------------------------------------------------------------------
# Outputs


def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def _probe_writable(directory: Path, target: Path) -> None:
    """Create and remove an empty temporary directory in ``directory``: the honest test of writability
    (``os.access`` says yes to root even where the filesystem refuses)."""
    try:
        tmp = tempfile.mkdtemp(prefix=".balancedbio-probe-", dir=directory)
    except OSError as exc:
        where = "" if directory == target else f" in {directory}"
        raise OutputError(f"{target}: cannot write{where} ({exc.strerror or exc})") from None
    with contextlib.suppress(OSError):
        os.rmdir(tmp)


def _check_parents(p: Path) -> None:
    anchor = _nearest_existing(p.parent)
    if not anchor.is_dir():
        raise OutputError(f"{p}: cannot create it: {anchor} is a file, not a directory")
    _probe_writable(anchor, p)


def check_output_dir(path: str | os.PathLike, *, force: bool = False, must_be_new: bool = False,
                     flag: str = "--output") -> Path:
    """Check that ``path`` can be (re)used as an output directory, before any work.

    Fails with one line when a parent is a file, when the place is not writable, when ``path`` is a
    file (unless ``force``: the caller replaces it) or (``must_be_new``) when it already exists, unless
    ``force``.
    """
    p = Path(path).expanduser()
    if p.exists():
        if not p.is_dir():
            if force:  # the caller replaces the file
                _check_parents(p)
                return p
            raise OutputError(f"{p}: {flag} exists and is a file, not a directory")
        if must_be_new and not force:
            raise OutputError(f"{p}: {flag} already exists; pass --force to replace it")
        _probe_writable(p, p)
        return p
    _check_parents(p)
    return p


def check_output_file(path: str | os.PathLike, *, force: bool = False, flag: str = "--output") -> Path:
    """Check that a single output file can be written at ``path``; an existing one needs ``force``."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise OutputError(f"{p}: {flag} is an existing directory, expected a file name")
    if p.exists() and not force:
        raise OutputError(f"{p}: {flag} already exists; pass --force to replace it")
    _check_parents(p)
    return p


# --------------------------------------------------------------------------------------------------
# Checkpoints


def _safetensors_files(path: Path) -> Iterable[Path]:
    if path.is_file():
        return [path] if path.suffix == ".safetensors" else []
    return sorted(path.glob("*.safetensors"))


def check_safetensors(path: str | os.PathLike) -> None:
    """Open every ``.safetensors`` file of ``path`` (a file or checkpoint directory) with the
    ``safetensors`` library, which checks that the header is complete and covers the whole file.
    A truncated or corrupt file raises :class:`ModelError` naming it."""
    from safetensors import SafetensorError, safe_open

    for f in _safetensors_files(Path(path)):
        try:
            with safe_open(str(f), framework="numpy"):
                pass
        except (SafetensorError, OSError) as exc:
            why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise ModelError(f"{f}: truncated or corrupt safetensors file ({why})") from None

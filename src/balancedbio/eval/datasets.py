"""Multiple-choice evaluation sets: MMLU medical subjects (CSV), PubMedQA, MedMCQA and MedQA.

Every loader turns its public format into :class:`MCQItem` s, keeping the texts as released (the prompt
formats of :mod:`balancedbio.eval.mcq_prompts` strip exactly where lm-eval does). A malformed row is
reported with its file and line (or key), then skipped and counted in :attr:`MCQSet.skipped`; with
``strict=True`` the first one raises :class:`~balancedbio.errors.DataError` instead. A file in which no
row is usable is always an error (it is in another format). Formats:

* MMLU (Hendrycks et al., arXiv 2009.03300): ``<root>/<split>/<subject>_<split>.csv`` without a header,
  columns ``question, A, B, C, D, answer`` (the answer a letter A-D). The medical subset is the paper's
  "BIOMED-MMLU" (BalancedBio, arXiv 2508.04278).
* PubMedQA (Jin et al., arXiv 1909.06146) ``ori_pqal.json``: ``{pmid: {"QUESTION", "CONTEXTS": [...],
  "final_decision": "yes"|"no"|"maybe", ...}}``; the options are the words yes / no / maybe (letters
  A / B / C in the predictions file).
* MedMCQA (Pal et al., CHIL 2022) JSONL: ``question, opa, opb, opc, opd, cop, subject_name``; ``cop`` is
  1-4 in the original release and 0-3 in the Hugging Face copy: a file containing a 0 is read as
  0-based, otherwise 1-based. Rows without a key (the unlabelled test split) are skipped and counted.
* MedQA (Jin et al., arXiv 2009.13081) JSONL, either the original release (``question, options
  {"A": ...}, answer_idx``; 4 or 5 options) or the Hugging Face copy lm-eval reads
  (``sent1, ending0..ending3, label`` 0-3).

:func:`load_hub` reads the same benchmarks from the Hugging Face hub ids lm-eval uses
(:data:`HUB_IDS`), only when the caller allows downloads.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.errors import DataError
from balancedbio.inputs import iter_text_lines
from balancedbio.rows import Row

log = logging.getLogger(__name__)

__all__ = ["MCQItem", "MCQSet", "MMLU_MEDICAL_SUBJECTS", "HUB_IDS", "MCQ_FORMATS", "load_mmlu", "load_pubmedqa",
           "load_medmcqa", "load_medqa", "load_mcq_file", "load_hub", "load_synth_rows"]

MMLU_MEDICAL_SUBJECTS = ("anatomy", "clinical_knowledge", "college_biology", "college_medicine",
                         "medical_genetics", "professional_medicine")

HUB = "hub"  # a benchmark source of "hub" (or "hub:<id>") reads the hub dataset; needs allow_download


def hub_source(path: str) -> tuple[bool, str | None]:
    """Parse a benchmark source: ``hub`` -> (True, None) (the benchmark's default id), ``hub:<id>`` ->
    (True, id), anything else (a local path) -> (False, None)."""
    if path == HUB:
        return True, None
    if path.startswith(HUB + ":"):
        return True, path[len(HUB) + 1:] or None
    return False, None


# benchmark -> (hub id, config name or None, test split): the datasets lm-eval 0.4 tasks read
HUB_IDS: dict[str, tuple[str, str | None, str]] = {
    "mmlu": ("cais/mmlu", None, "test"),  # config = subject
    "medqa": ("GBaker/MedQA-USMLE-4-options-hf", None, "test"),
    "medmcqa": ("openlifescienceai/medmcqa", None, "validation"),
    "pubmedqa": ("bigbio/pubmed_qa", "pubmed_qa_labeled_fold0_source", "test"),
}


@dataclass(frozen=True)
class MCQItem:
    """One multiple-choice question; ``choices`` maps letters to option texts in order.

    ``context`` is the passage a question is asked about (PubMedQA's abstract), ``prompt_format`` the
    name of its :mod:`~balancedbio.eval.mcq_prompts` format.
    """

    id: str
    subject: str
    question: str
    choices: dict[str, str]
    answer: str
    source: str = ""  # "file:line" for messages
    context: str = ""
    prompt_format: str = "mmlu"


@dataclass
class MCQSet:
    """Items of one dataset plus the rows that were skipped (one message each: file:line: why)."""

    name: str
    items: list[MCQItem]
    skipped: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return sorted({it.subject for it in self.items})

    def by_subject(self) -> dict[str, list[MCQItem]]:
        out: dict[str, list[MCQItem]] = {}
        for it in self.items:
            out.setdefault(it.subject, []).append(it)
        return out


class _Collector:
    def __init__(self, name: str, strict: bool):
        self.set = MCQSet(name, [])
        self.strict = strict

    def bad(self, where: str, why: str) -> None:
        msg = f"{where}: {why}"
        if self.strict:
            raise DataError(msg + " (stopping: strict mode)")
        log.warning("skipping %s", msg)
        self.set.skipped.append(msg)

    def finish(self, source: str, what: str) -> MCQSet:
        """The set; DataError when rows were read but none was usable (a file in another format)."""
        if not self.set.items and self.set.skipped:
            raise DataError(f"{source}: no usable {what} question ({len(self.set.skipped)} rows skipped; "
                            f"first: {self.set.skipped[0]})")
        return self.set


def _check_answer(answer: str, letters: list[str]) -> str | None:
    """None if fine, else the reason."""
    if answer not in letters:
        return f"answer key {answer!r} is not one of {', '.join(letters)}"
    return None


def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    return path


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _mmlu_row(col: _Collector, where: str, subject: str, item_id: str, row: list[str]) -> None:
    if len(row) != 6:
        col.bad(where, f"expected 6 columns (question, A, B, C, D, answer), got {len(row)}")
        return
    answer = row[5].strip().upper()
    why = _check_answer(answer, ["A", "B", "C", "D"])
    if why:
        col.bad(where, why)
        return
    col.set.items.append(MCQItem(item_id, subject, row[0], dict(zip("ABCD", row[1:5])), answer, where))


def load_mmlu(root: str | Path, split: str = "test", subjects: tuple[str, ...] | list[str] | None = None,
              *, strict: bool = False) -> MCQSet:
    """Load ``<root>/<split>/<subject>_<split>.csv`` for each subject (default: the six medical ones)."""
    root = Path(root)
    if not (root / split).is_dir():
        raise DataError(f"{root / split}: MMLU split directory not found (expected <root>/{split}/<subject>_{split}.csv)")
    subjects = list(subjects or MMLU_MEDICAL_SUBJECTS)
    col = _Collector(f"mmlu_medical/{split}", strict)
    for subject in subjects:
        path = _require_file(root / split / f"{subject}_{split}.csv")
        col.set.files.append(str(path))
        n_before = len(col.set.items)
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except (csv.Error, UnicodeDecodeError) as exc:
                    col.bad(f"{path}:{start}", f"unreadable CSV ({exc})")
                    if isinstance(exc, UnicodeDecodeError):
                        break
                    continue
                if not row or all(not c.strip() for c in row):
                    continue
                _mmlu_row(col, f"{path}:{start}", subject, f"{subject}/{split}/{start}", row)
        if len(col.set.items) == n_before and col.set.skipped:
            raise DataError(f"{path}: no usable MMLU question (expected CSV rows question,A,B,C,D,answer "
                            f"without a header; first problem: {col.set.skipped[-1]})")
    return col.set


def _jsonl(path: Path, col: _Collector) -> Iterator[tuple[str, dict[str, Any]]]:
    # UTF-8 with a leading BOM dropped; a binary file is an error naming the line, not a skipped row
    for lineno, line in iter_text_lines(_require_file(path)):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            col.bad(where, f"invalid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            col.bad(where, "expected a JSON object")
            continue
        yield where, obj


def _pubmedqa_record(col: _Collector, where: str, key: str, rec: Any) -> None:
    letter = {"yes": "A", "no": "B", "maybe": "C"}
    if not isinstance(rec, dict) or not _text(rec.get("QUESTION")) or "final_decision" not in rec:
        col.bad(where, "missing QUESTION or final_decision")
        return
    decision = str(rec["final_decision"]).strip().lower()
    if decision not in letter:
        col.bad(where, f"final_decision {rec['final_decision']!r} is not yes/no/maybe")
        return
    contexts = rec.get("CONTEXTS") or []
    if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
        col.bad(where, "CONTEXTS must be a list of strings")
        return
    col.set.items.append(MCQItem(f"pubmedqa/{key}", "pubmedqa", rec["QUESTION"],
                                 {"A": "yes", "B": "no", "C": "maybe"}, letter[decision], where,
                                 context="\n".join(contexts), prompt_format="pubmedqa"))


def load_pubmedqa(path: str | Path, *, strict: bool = False) -> MCQSet:
    """PubMedQA ``ori_pqal.json``: options yes / no / maybe (letters A / B / C)."""
    path = _require_file(Path(path))
    col = _Collector("pubmedqa", strict)
    col.set.files.append(str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg}); expected PubMedQA's ori_pqal.json") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text (expected PubMedQA's ori_pqal.json)") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected an object mapping PubMed ids to questions (PubMedQA's ori_pqal.json)")
    for pmid, rec in data.items():
        _pubmedqa_record(col, f"{path}: entry {pmid}", pmid, rec)
    return col.finish(str(path), "PubMedQA")


def _medmcqa_records(col: _Collector, rows: list[tuple[str, dict[str, Any]]], zero_based: bool | None = None) -> None:
    cops = [r.get("cop") for _, r in rows if isinstance(r.get("cop"), int) and not isinstance(r.get("cop"), bool)]
    zero_based = (0 in cops) if zero_based is None else zero_based
    for where, r in rows:
        missing = [k for k in ("question", "opa", "opb", "opc", "opd") if not isinstance(r.get(k), str)]
        if missing:
            col.bad(where, f"missing or non-text fields {missing}")
            continue
        cop = r.get("cop")
        if cop is None or cop == -1:
            col.bad(where, "no answer key (cop); unlabelled test rows cannot be scored")
            continue
        if isinstance(cop, str) and cop.strip().upper() in "ABCD" and len(cop.strip()) == 1:
            answer = cop.strip().upper()
        elif isinstance(cop, int) and not isinstance(cop, bool) and (0 if zero_based else 1) <= cop <= (3 if zero_based else 4):
            answer = "ABCD"[cop - (0 if zero_based else 1)]
        else:
            col.bad(where, f"answer key cop={cop!r} is outside {'0-3' if zero_based else '1-4'} (A-D)")
            continue
        choices = {"A": r["opa"], "B": r["opb"], "C": r["opc"], "D": r["opd"]}
        subject = str(r.get("subject_name") or "medmcqa")
        col.set.items.append(MCQItem(f"medmcqa/{r.get('id', len(col.set.items))}", subject, r["question"],
                                     choices, answer, where, prompt_format="medmcqa"))


def load_medmcqa(path: str | Path, *, strict: bool = False) -> MCQSet:
    """MedMCQA JSONL (``opa..opd``, ``cop``); see the module docstring for the ``cop`` base."""
    path = Path(path)
    col = _Collector("medmcqa", strict)
    col.set.files.append(str(path))
    _medmcqa_records(col, list(_jsonl(path, col)))
    return col.finish(str(path), "MedMCQA")


def _medqa_record(col: _Collector, where: str, r: dict[str, Any]) -> None:
    if "sent1" in r:  # the Hugging Face copy lm-eval reads
        endings = [r.get(f"ending{i}") for i in range(4)]
        if not _text(r.get("sent1")) or not all(isinstance(e, str) for e in endings):
            col.bad(where, "missing 'sent1' text or 'ending0'..'ending3'")
            return
        label = r.get("label")
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label <= 3:
            col.bad(where, f"label {label!r} is not 0-3")
            return
        col.set.items.append(MCQItem(f"medqa/{r.get('id', len(col.set.items))}", "medqa", r["sent1"],
                                     dict(zip("ABCD", endings)), "ABCD"[label], where, prompt_format="medqa"))
        return
    options = r.get("options")
    if not _text(r.get("question")) or not isinstance(options, dict) or not options:
        col.bad(where, "missing 'question' text or 'options' object (or 'sent1', 'ending0'..'ending3', 'label')")
        return
    letters = sorted(str(k).strip().upper() for k in options)
    if letters != list("ABCDE"[:len(letters)]) or len(letters) < 2:
        col.bad(where, f"option letters {letters} are not A, B, C, ... in order")
        return
    answer = str(r.get("answer_idx", "")).strip().upper()
    why = _check_answer(answer, letters)
    if why:
        col.bad(where, why)
        return
    choices = {str(k).strip().upper(): str(v) for k, v in sorted(options.items())}
    col.set.items.append(MCQItem(f"medqa/{len(col.set.items)}", "medqa", r["question"], choices, answer, where,
                                 prompt_format="medqa"))


def load_medqa(path: str | Path, *, strict: bool = False) -> MCQSet:
    """MedQA JSONL: the original release or lm-eval's Hugging Face copy (see the module docstring)."""
    path = Path(path)
    col = _Collector("medqa", strict)
    col.set.files.append(str(path))
    for where, r in _jsonl(path, col):
        _medqa_record(col, where, r)
    return col.finish(str(path), "MedQA")


MCQ_FORMATS: dict[str, Callable[..., MCQSet]] = {"pubmedqa": load_pubmedqa, "medmcqa": load_medmcqa,
                                                 "medqa": load_medqa}


def load_mcq_file(kind: str, path: str | Path, *, strict: bool = False) -> MCQSet:
    """Load one extra MCQ set by format name: ``pubmedqa``, ``medmcqa`` or ``medqa``."""
    if kind not in MCQ_FORMATS:
        raise DataError(f"unknown MCQ dataset format {kind!r}; expected one of {', '.join(MCQ_FORMATS)}")
    return MCQ_FORMATS[kind](path, strict=strict)


def _hub_rows(hub_id: str, config: str | None, split: str) -> Iterable[dict[str, Any]]:
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        raise DataError(f"{hub_id}: reading a hub dataset needs the 'datasets' package") from None
    try:
        return datasets.load_dataset(hub_id, config, split=split)
    except Exception as exc:  # network, missing id or split: one line
        raise DataError(f"{hub_id}: could not load split {split!r} ({type(exc).__name__}: {exc})") from None


def load_hub(kind: str, *, allow_download: bool = False, hub_id: str | None = None, split: str | None = None,
             subjects: Iterable[str] | None = None, strict: bool = False) -> MCQSet:
    """A benchmark from the hub id lm-eval uses (:data:`HUB_IDS`); needs ``allow_download=True``.

    Without it, the error names the id and the flag, and nothing is fetched.
    """
    if kind not in HUB_IDS:
        raise DataError(f"no hub dataset known for {kind!r}; expected one of {', '.join(HUB_IDS)}")
    default_id, config, default_split = HUB_IDS[kind]
    hub_id, split = hub_id or default_id, split or default_split
    if not allow_download:
        raise DataError(f"{hub_id}: reading the hub dataset needs --allow-download (offline by default); "
                        f"or pass a local {kind} file")
    col = _Collector(f"{kind}/{split}", strict)
    col.set.files.append(f"hub:{hub_id}")
    if kind == "mmlu":
        for subject in subjects or MMLU_MEDICAL_SUBJECTS:
            for i, r in enumerate(_hub_rows(hub_id, subject, split)):
                choices = list(r.get("choices") or [])
                ans = r.get("answer")
                row = [r.get("question", "")] + choices + (["ABCD"[ans]] if isinstance(ans, int) and 0 <= ans < 4 else [""])
                _mmlu_row(col, f"{hub_id}/{subject}/{split}:{i}", subject, f"{subject}/{split}/{i}", row)
    else:
        rows = [(f"{hub_id}/{split}:{i}", dict(r)) for i, r in enumerate(_hub_rows(hub_id, config, split))]
        if kind == "medmcqa":
            _medmcqa_records(col, rows, zero_based=True)  # the hub copy's cop is 0-3
        for where, r in rows:
            if kind == "medqa":
                _medqa_record(col, where, r)
            elif kind == "pubmedqa":
                _pubmedqa_record(col, where, str(r.get("PUBMED_ID", where)), r)
    return col.finish(hub_id, kind)


# --------------------------------------------------------------------------------------------------
# Synthetic test split (rows of the synthetic-data contract)


def load_synth_rows(path: str | Path, *, strict: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a synthetic ``test.jsonl`` (each validated by :meth:`Row.parse`), and one ``file:line: why`` per skipped row."""
    path = Path(path)
    col = _Collector("synthetic", strict)
    rows = []
    for where, obj in _jsonl(path, col):
        try:
            rows.append(Row.parse(obj, where).to_dict())
        except DataError as exc:
            col.bad(where, str(exc).removeprefix(f"{where}: "))
    return rows, col.set.skipped

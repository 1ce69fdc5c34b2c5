"""Data files shipped inside the package, so a bare clone or a wheel runs without extra downloads.

``mmlu_medical/``: the six MMLU medical subjects (test split + dev few-shot examples; MIT licence, see
``mmlu_medical/README.md`` and ``mmlu_medical/LICENSE``).
"""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent


def mmlu_medical_dir() -> Path:
    """The packaged MMLU medical directory (``dev/`` and ``test/`` CSVs)."""
    return RESOURCES / "mmlu_medical"


__all__ = ["RESOURCES", "mmlu_medical_dir"]

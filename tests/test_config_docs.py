"""docs/configs.md is generated from the config dataclasses: it must match them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_current():
    spec = importlib.util.spec_from_file_location("gen_config_docs", ROOT / "scripts" / "gen_config_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    page = (ROOT / "docs" / "configs.md").read_text()
    assert gen.render() == page, "docs/configs.md is stale: run python scripts/gen_config_docs.py"
    assert "process_prefill" in page

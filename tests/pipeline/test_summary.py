"""The run's report: scalar summaries in the stage table, the kg stage's licences in their own table."""

from __future__ import annotations

from balancedbio.pipeline.config import PipelineConfig
from balancedbio.pipeline.context import RunContext
from balancedbio.pipeline.summary import write_run_report


def test_licences_get_their_own_table_and_stay_out_of_the_stage_line(tmp_path):
    ctx = RunContext(PipelineConfig(), tmp_path)
    ctx.manifests["kg"] = {"seconds": 3.0, "summary": {"build_seconds": 2.5,
                                                       "licences": {"drug2cell": "non-commercial use only",
                                                                    "hpo": "HPO licence"}}}
    ctx.manifests["synth"] = {"seconds": 1.0, "summary": {"train": 10, "test": 2}}
    md = (tmp_path / "report.md")
    write_run_report(ctx)
    text = md.read_text()
    assert "| kg | 3.0 | build_seconds=2.5 |" in text and "| synth | 1.0 | train=10, test=2 |" in text
    assert "## Knowledge sources and their licences" in text
    assert "| drug2cell | non-commercial use only |" in text and "{" not in text.split("## Stages")[1]

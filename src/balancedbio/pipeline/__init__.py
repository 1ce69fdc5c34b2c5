"""The end-to-end pipeline: knowledge graph -> synthetic data -> BFT -> capability-aware GRPO ->
evaluation -> embeddings benchmark -> one report.

Every stage writes its outputs under ``<run>/stages/<stage>/`` and, last, a ``manifest.json`` (config
hash, input fingerprints, versions, outputs, summary, SHA-256 of the weights it wrote). A stage whose
manifest matches is skipped; an interrupted stage started with the same settings resumes from its own
checkpoints, so a run killed at any moment continues where it stopped and never loses finished work; a
stage whose settings or inputs changed, or that ``--from`` names, starts from nothing.

1 process:   balancedbio run configs/quickstart.yaml
N processes: torchrun --nproc_per_node N -m balancedbio run configs/quickstart.yaml
             (training stages run on every rank; data, evaluation and reporting on rank 0)
"""

from typing import Any

from balancedbio.pipeline import runner, stages
from balancedbio.pipeline.config import STAGES, PipelineConfig, load_pipeline_config


def run_pipeline(cfg: PipelineConfig, **kwargs: Any) -> dict[str, Any]:
    """Run the recipe's stages (the package's stage table); see :func:`runner.run_pipeline` for options."""
    return runner.run_pipeline(cfg, stages.STAGE_SPECS, **kwargs)


__all__ = ["STAGES", "PipelineConfig", "load_pipeline_config", "run_pipeline"]

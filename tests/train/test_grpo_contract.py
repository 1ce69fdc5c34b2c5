"""Contract with TRL: the methods CapabilityGRPOTrainer overrides or calls keep the signatures it was written for.

A TRL upgrade that changes one of them fails here with the method's name, the recorded and the new parameters,
instead of silently skipping the override or mis-passing arguments. Every private override is listed in
docs/grpo.md ("TRL seams"), and the TRL pin in pyproject.toml equals balancedbio.train.engines.TRL_RANGE.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from trl import GRPOTrainer

from balancedbio.train.engines import TRL_RANGE, EngineError, check_trl
from balancedbio.train.grpo_trainer import CapabilityGRPOTrainer

REPO = Path(__file__).resolve().parents[2]

# name -> (parameter names, defaults) of TRL 1.16's GRPOTrainer method, as the override / call was written for
OVERRIDDEN_PRIVATE = {
    "_generate_single_turn": (["self", "prompt_ids", "images", "multimodal_fields", "num_generations",
                               "has_tool_images"], {"has_tool_images": False}),
    "_calculate_rewards": (["self", "inputs", "prompts", "completions", "completion_ids_list"], {}),
    "_generate_and_score_completions": (["self", "inputs"], {}),
}
OVERRIDDEN_PUBLIC = {
    "training_step": (["self", "model", "inputs", "num_items_in_batch"], {}),
    "train": (["self", "resume_from_checkpoint", "trial", "ignore_keys_for_eval"],
              {"resume_from_checkpoint": None, "trial": None, "ignore_keys_for_eval": None}),
}
CALLED_PRIVATE = {  # only the leading parameters we pass matter
    "_get_per_token_logps_and_entropies": (["self", "model", "input_ids", "attention_mask", "logits_to_keep",
                                            "batch_size", "compute_entropy"], {"compute_entropy": False}),
    "_prepare_inputs": (["self", "generation_batch"], {}),
    "get_high_entropy_mask": (["self", "entropies", "mask", "threshold"], {}),
    "_compute_loss": (["self", "model", "inputs"], {}),  # the reference of the loss parity tests
}


def _shape(name):
    params = list(inspect.signature(getattr(GRPOTrainer, name)).parameters.values())
    names = [p.name for p in params]
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return names, defaults


@pytest.mark.parametrize("name", [*OVERRIDDEN_PRIVATE, *OVERRIDDEN_PUBLIC])
def test_overridden_method_signature_unchanged(name):
    expected_names, expected_defaults = {**OVERRIDDEN_PRIVATE, **OVERRIDDEN_PUBLIC}[name]
    assert hasattr(GRPOTrainer, name), f"TRL's GRPOTrainer no longer has {name}; our override is dead code"
    names, defaults = _shape(name)
    assert names == expected_names and all(defaults.get(k) == v for k, v in expected_defaults.items()), (
        f"GRPOTrainer.{name} changed: recorded ({', '.join(expected_names)}) {expected_defaults}, "
        f"now ({', '.join(names)}) {defaults}; re-check CapabilityGRPOTrainer.{name} against the new TRL")


@pytest.mark.parametrize("name", list(CALLED_PRIVATE))
def test_called_private_method_signature_unchanged(name):
    expected_names, expected_defaults = CALLED_PRIVATE[name]
    assert hasattr(GRPOTrainer, name), f"TRL's GRPOTrainer no longer has {name}, which the trainer calls"
    names, defaults = _shape(name)
    assert names[: len(expected_names)] == expected_names and all(
        defaults.get(k) == v for k, v in expected_defaults.items()), (
        f"GRPOTrainer.{name} changed: recorded leading parameters ({', '.join(expected_names)}), "
        f"now ({', '.join(names)}); re-check the calls in balancedbio.train.grpo_trainer")


def test_every_private_override_is_recorded_and_documented():
    ours = {n for n, v in vars(CapabilityGRPOTrainer).items() if callable(v) and hasattr(GRPOTrainer, n)}
    private = {n for n in ours if n.startswith("_") and not n.startswith("__")}
    assert private == set(OVERRIDDEN_PRIVATE), "a private override was added or removed: record it here"
    assert ours - private - {"__init__"} == set(OVERRIDDEN_PUBLIC)
    doc = (REPO / "docs" / "grpo.md").read_text()
    section = doc[doc.index("## TRL seams"):]
    for name in [*OVERRIDDEN_PRIVATE, *CALLED_PRIVATE]:
        assert f"`{name}`" in section, f"docs/grpo.md 'TRL seams' does not list {name}"


def test_trl_pin_matches_the_checked_range():
    pyproject = (REPO / "pyproject.toml").read_text()
    pin = re.search(r'"trl([^"]*)"', pyproject).group(1)
    assert pin.replace(" ", "") == ",".join(TRL_RANGE)
    check_trl()  # the installed TRL is inside it
    for outside in ("1.15.2", "1.17.0", "2.0.0"):
        with pytest.raises(EngineError, match=rf"trl {re.escape(outside)} is outside the tested range"):
            check_trl(outside)


def test_the_prompt_sampler_is_seeded_per_epoch(tmp_path, tiny_model_dir):
    """EpochSeedCallback re-seeds TRL's RepeatSampler through its ``generator`` and ``seed`` attributes; a TRL
    whose sampler drops them would silently lose the resumed run's data order, so the real dataloader of a
    built trainer must hold a sampler the callback finds, and the callback must be registered."""
    import json

    from grpo_rows import contract_rows

    from balancedbio.config import load_config
    from balancedbio.train.grpo import GRPORecipeConfig, build_trainer
    from balancedbio.train.resume_callbacks import EpochSeedCallback, seeded_samplers

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in contract_rows()))
    for aware in ("true", "false"):
        cfg = load_config(GRPORecipeConfig, None, [
            f"model.name_or_path={tiny_model_dir}", f"data={data}", f"output_dir={tmp_path / 'out'}", "steps=1",
            "prompts_per_step=4", "num_generations=2", "max_new_tokens=4", "rewards.model_reward=none",
            "report_to=[none]", f"capability_aware={aware}"])
        trainer = build_trainer(cfg, reward_funcs=[lambda prompts, completions, **kw: [0.0] * len(completions)],
                                rule_weights=[1.0], model_weights=[0.0])
        assert any(isinstance(cb, EpochSeedCallback) for cb in trainer.callback_handler.callbacks)
        samplers = seeded_samplers(trainer.get_train_dataloader())
        assert len(samplers) == 1 and samplers[0].seed == trainer.args.seed

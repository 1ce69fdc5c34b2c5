"""Does it balance? base vs NLL vs DFT vs BFT vs BFT->GRPO vs BFT->capability-aware GRPO.

Every arm starts from the same base model and trains on the same data: the MKGSG synthetic training split
(every capability) plus ``knowledge_facts`` HPO facts in one wording (``experiments/bft_knowledge.py``);
the GRPO arms start from the BFT arm of the same seed. Each arm and seed is measured on:

* MMLU-medical, zero-shot (the suite's registered task; 1,099 questions when ``mmlu_limit`` is 0);
* IFEval: a fixed subset of ``ifeval_prompts`` prompts drawn with ``ifeval_seed`` and written to
  ``<run>/data/ifeval_subset.jsonl`` before any arm runs; prompt- and instruction-level, strict and loose;
* the entity-disjoint synthetic test split, ``synth_per_capability`` rows per capability, scored by each
  capability's own judge; the hallucination flag of the reasoning/integration answers (graph fact checker);
* knowledge acquisition: the trained facts asked in an unseen wording (log-likelihood ranking, chance 25%).

Resumable: the data (kg, synth) and every training run go through the pipeline's stage runner and
manifests (a killed stage resumes from its checkpoints); every (arm, seed, measure) result is one file
written atomically and skipped when it exists with the same settings, so a rerun after a kill continues
where it stopped and writes what an uninterrupted run would. ``balance.json`` (per arm, per measure:
score, ci, n, delta_vs_base, delta_ci; settings, seeds, commit, machine, wall clock) and a Pareto plot
are rewritten from those files at the end of every run (marked ``partial`` while pieces are missing).

    OMP_NUM_THREADS=2 python experiments/balance.py --config configs/experiments/balance.yaml
    python experiments/balance.py --config configs/experiments/balance.yaml --report-only   # JSON + plot only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from balance_config import ARMS, BalanceConfig  # noqa: E402

from balancedbio.atomic import write_json, write_text  # noqa: E402
from balancedbio.config import config_hash, from_dict, load_config, merge_dicts, to_dict  # noqa: E402
from balancedbio.errors import ConfigError, DataError  # noqa: E402


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# ------------------------------------------------------------------------------------------- data
def prepare_data(cfg: BalanceConfig, run_dir: Path) -> dict[str, Any]:
    """kg + synth through the pipeline (one data seed for every arm), the SFT file and the IFEval subset."""
    from bft_knowledge import build_facts, training_rows

    from balancedbio.pipeline import PipelineConfig, run_pipeline

    pcfg = from_dict(PipelineConfig, {"name": "data", "output_root": str(run_dir), "seed": cfg.data_seed,
                                      "model": cfg.model, "stages": ["kg", "synth"], "kg": cfg.kg,
                                      "synth": cfg.synth}, source="balance config")
    manifests = run_pipeline(pcfg, source="balance config", force=True)
    data_dir = run_dir / "data"
    synth_dir = Path(manifests["synth"]["outputs"]["data"])
    synth_dir = synth_dir if synth_dir.is_absolute() else pcfg.run_dir / synth_dir
    train_rows = [json.loads(x) for x in (synth_dir / "train.jsonl").read_text().splitlines() if x.strip()]
    facts = build_facts(cfg.knowledge_facts, seed=cfg.data_seed) if cfg.knowledge_facts else []
    sft_rows = [{"messages": r["messages"]} for r in train_rows] + training_rows(facts) * cfg.knowledge_repeats
    random.Random(cfg.data_seed).shuffle(sft_rows)
    sft = data_dir / "sft_train.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sft_rows)
    if not sft.is_file() or sft.read_text() != text:
        write_text(sft, text)
    write_json(data_dir / "knowledge_facts.json", facts)
    graph = manifests["kg"]["outputs"]["graph"]
    data = {"synth_train": synth_dir / "train.jsonl", "synth_test": synth_dir / "test.jsonl", "sft_train": sft,
            "facts": facts, "graph": graph if Path(graph).is_absolute() else str(pcfg.run_dir / graph),
            "ifeval_subset": ifeval_subset(cfg, data_dir) if "ifeval" in cfg.measures else None,
            "graph_id": graph_id(graph if Path(graph).is_absolute() else pcfg.run_dir / graph),
            "counts": {"synth_train": len(train_rows), "knowledge_facts": len(facts), "sft_rows": len(sft_rows)}}
    write_json(data_dir / PREPARED, {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()
                                     if k != "facts"})
    return data


PREPARED = "prepared.json"


def graph_id(path: str | Path) -> str:
    """The graph's identity for the synth measure's settings: its sources and versions (its ``meta`` table
    without the build time) and its entity and edge counts, not its path, so finished pieces stay valid on
    another machine."""
    from balancedbio.knowledge.graph import KnowledgeGraph

    graph = KnowledgeGraph.open(path)
    try:
        stats = graph.stats()
        return config_hash({**{k: v for k, v in graph.meta.items() if k not in ("built_at", "build_seconds")},
                            "entities": stats["entities"], "edges": stats["edges"]})
    finally:
        graph.close()


def load_prepared(cfg: BalanceConfig, run_dir: Path) -> dict[str, Any]:
    """The data a ``--prepare-only`` sitting wrote, without the kg and synth stages (a machine without the
    knowledge packages or the graph: the synth measure's graph flags are added where the graph is)."""
    path = run_dir / "data" / PREPARED
    if not path.is_file():
        raise DataError(f"{path}: no prepared data; run this config with --prepare-only first")
    blob = json.loads(path.read_text())
    for key in ("synth_train", "synth_test", "sft_train", "ifeval_subset"):
        if blob.get(key) is not None:
            if not Path(blob[key]).is_file():
                raise DataError(f"{path}: {key}: {blob[key]} not found")
            blob[key] = Path(blob[key])
    if "ifeval" in cfg.measures and blob.get("ifeval_subset") is None:
        raise DataError(f"{path}: prepared without the IFEval subset but measures has ifeval")
    blob["facts"] = json.loads((run_dir / "data" / "knowledge_facts.json").read_text())
    return blob


def ifeval_subset(cfg: BalanceConfig, data_dir: Path) -> Path:
    """Draw the fixed IFEval subset once (seeded), before any arm; the drawn lines are kept verbatim."""
    dest = data_dir / "ifeval_subset.jsonl"
    stamp = data_dir / "ifeval_subset.json"
    want = {"input": cfg.ifeval_input, "n": cfg.ifeval_prompts, "seed": cfg.ifeval_seed}
    if dest.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("drawn_with") == want:
        return dest
    from balancedbio.eval.ifeval import IFEVAL_HUB_ID, load_input_data

    src = Path(cfg.ifeval_input).expanduser()
    if src.is_file():
        lines = [x for x in src.read_text().splitlines() if x.strip()]
        load_input_data(src)  # validates every line (file:line on a bad one)
    else:
        hub = IFEVAL_HUB_ID if cfg.ifeval_input == "hub" else cfg.ifeval_input
        samples = load_input_data(hub, allow_download=cfg.allow_download)
        lines = [json.dumps({"key": s.key, "prompt": s.prompt, "instruction_id_list": list(s.instruction_id_list),
                             "kwargs": list(s.kwargs)}) for s in samples]
    if cfg.ifeval_prompts > len(lines):
        raise DataError(f"{cfg.ifeval_input}: ifeval_prompts={cfg.ifeval_prompts} but the file has {len(lines)} prompts")
    picked = sorted(random.Random(cfg.ifeval_seed).sample(range(len(lines)), cfg.ifeval_prompts))
    write_text(dest, "".join(lines[i] + "\n" for i in picked))
    write_json(stamp, {"drawn_with": want, "keys": [json.loads(lines[i]).get("key") for i in picked],
                       "sha256": _sha(dest)})
    return dest


# ---------------------------------------------------------------------------------------- training
def _wired(section: dict[str, Any], cls: type, wiring: dict[str, Any], prefix: str) -> tuple[Any, dict[str, Any]]:
    from balancedbio.config import parse_overrides

    wired = parse_overrides([f"{k}={v}" for k, v in wiring.items()])
    obj = from_dict(cls, merge_dicts(section, wired), source="balance config", prefix=prefix)
    return obj, to_dict(obj)


def _result(final: Path, summary_file: str) -> Any:
    """The stage's outputs and the numbers of the recipe's own summary (loss, conflict share, ...)."""
    from balancedbio.pipeline.context import StageResult

    path = Path(final) / summary_file
    blob = json.loads(path.read_text()) if path.is_file() else {}
    return StageResult({"final": str(final)}, {k: v for k, v in blob.items() if isinstance(v, (int, float))})


def train_arm(cfg: BalanceConfig, run_dir: Path, data: dict[str, Any], arm: str, seed: int) -> dict[str, Any]:
    """Train one arm and seed as a one-stage pipeline run (manifest + resume); return its manifest."""
    from balancedbio.pipeline import PipelineConfig
    from balancedbio.pipeline.context import StageSpec
    from balancedbio.pipeline.runner import run_pipeline
    from balancedbio.train.grpo import GRPORecipeConfig, train_grpo
    from balancedbio.train.sft import SFTRecipeConfig, train_sft

    spec = ARMS[arm]
    arm_root = run_dir / "arms"
    out = arm_root / f"{arm}-s{seed}" / "stages"
    if spec["kind"] == "sft":
        stage, section = "bft", merge_dicts(cfg.sft, {"train": {"method": spec["method"]}})
        wiring = {"model.name_or_path": cfg.model, "data.path": data["sft_train"], "output_dir": out / "bft",
                  "seed": seed}
        resolve = lambda ctx: _wired(ctx.cfg.bft, SFTRecipeConfig, wiring, "sft.")  # noqa: E731
        run = lambda ctx, c: _result(train_sft(c, resume=True), "balancedbio_sft.json")  # noqa: E731
    else:
        start = train_arm(cfg, run_dir, data, spec["from"], seed)
        stage, section = "grpo", merge_dicts(cfg.grpo, {"capability_aware": spec["capability_aware"]})
        wiring = {"model.name_or_path": start["final_abs"], "data": data["synth_train"], "output_dir": out / "grpo",
                  "seed": seed}
        resolve = lambda ctx: _wired(ctx.cfg.grpo, GRPORecipeConfig, wiring, "grpo.")  # noqa: E731
        run = lambda ctx, c: _result(train_grpo(c, resume=True), "../grpo_summary.json")  # noqa: E731
    pcfg = from_dict(PipelineConfig, {"name": f"{arm}-s{seed}", "output_root": str(arm_root), "seed": seed,
                                      "model": cfg.model, "stages": [stage], stage: section},
                     source="balance config")
    manifest = run_pipeline(pcfg, {stage: StageSpec(stage, (), resolve, run, all_ranks=True)},
                            source="balance config", force=True)[stage]
    final = Path(manifest["outputs"]["final"])
    return {**manifest, "final_abs": str(final if final.is_absolute() else pcfg.run_dir / final)}


# ----------------------------------------------------------------------------------------- measures
def measure_settings(cfg: BalanceConfig, data: dict[str, Any], measure: str) -> dict[str, Any]:
    if measure == "mmlu":
        return {"mmlu_limit": cfg.mmlu_limit}
    if measure == "ifeval":
        return {"subset": _sha(data["ifeval_subset"]), "max_new_tokens": cfg.ifeval_max_new_tokens,
                "batch_size": cfg.batch_size}
    if measure == "synth":
        return {"test": _sha(Path(data["synth_test"])), "per_capability": cfg.synth_per_capability,
                "max_new_tokens": cfg.synth_max_new_tokens, "batch_size": cfg.batch_size,
                "graph": data.get("graph_id") or data["graph"]}
    return {"facts": config_hash({"facts": data["facts"]})}


def synth_rows(cfg: BalanceConfig, data: dict[str, Any]) -> list[dict[str, Any]]:
    from balancedbio.eval.datasets import load_synth_rows

    rows, _ = load_synth_rows(Path(data["synth_test"]))
    by_cap: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_cap.setdefault(r["capability"], []).append(r)
    k = cfg.synth_per_capability
    return [r for cap in sorted(by_cap) for r in (by_cap[cap][:k] if k else by_cap[cap])]


def run_measures(cfg: BalanceConfig, run_dir: Path, data: dict[str, Any], arm: str, seed: int | None,
                 model_spec: str, model_id: str, deadline: float | None) -> list[str]:
    """Every configured measure of one (arm, seed); finished ones are skipped; returns those still missing."""
    import shutil

    import balance_measures as M
    from balance_report import pieces_dir

    res_dir = pieces_dir(cfg, run_dir) / (arm if seed is None else f"{arm}-s{seed}")
    loaded: list[Any] = []
    graph: list[Any] = []

    def model() -> tuple[Any, Any]:
        if not loaded:
            from balancedbio.models import load_model

            m, t = load_model(model_spec, dtype="float32", device=eval_device(cfg))
            m.eval()
            loaded.extend([m, t])
        return loaded[0], loaded[1]

    missing = []
    for measure in cfg.measures:
        settings = {"measure": measure, "model": model_id, **measure_settings(cfg, data, measure)}
        key = config_hash(settings)
        path = res_dir / f"{measure}.json"
        if _piece_done(path, key):
            continue
        if deadline is not None and time.time() > deadline:
            missing.append(measure)
            continue
        t0 = time.time()
        work = res_dir / f"{measure}.work"
        shutil.rmtree(work, ignore_errors=True)  # a suite's cached parts belong to the settings that wrote them
        if measure == "mmlu":
            result = M.mmlu(model(), work, limit=cfg.mmlu_limit)
        elif measure == "ifeval":
            result = M.ifeval(model(), work, subset=data["ifeval_subset"], max_new_tokens=cfg.ifeval_max_new_tokens,
                              batch_size=cfg.batch_size)
        elif measure == "synth":
            if not graph:
                graph.append(open_graph(data))
            result = M.synth(*model(), synth_rows(cfg, data), graph[0], max_new_tokens=cfg.synth_max_new_tokens,
                             batch_size=cfg.batch_size)
        else:
            result = M.knowledge(*model(), data["facts"])
        write_json(path, {"settings_hash": key, "settings": settings, "arm": arm, "seed": seed,
                          "seconds": round(time.time() - t0, 1), "loadavg": os.getloadavg(), **result})
        shutil.rmtree(work, ignore_errors=True)
        print(f"balance: {arm} seed {seed} {measure} done in {time.time() - t0:.0f}s", flush=True)
    return missing


def _piece_done(path: Path, key: str) -> bool:
    try:
        return json.loads(path.read_text()).get("settings_hash") == key
    except (OSError, json.JSONDecodeError):
        return False


def arm_key(cfg: BalanceConfig, data: dict[str, Any], arm: str, seed: int) -> str:
    """Hash of everything an arm's weights depend on: its recipe section, seed, base model, training data
    (and, for a GRPO arm, the key of the arm it starts from)."""
    spec = ARMS[arm]
    if spec["kind"] == "sft":
        parts = {"section": merge_dicts(cfg.sft, {"train": {"method": spec["method"]}}),
                 "data": _sha(Path(data["sft_train"]))}
    else:
        parts = {"section": merge_dicts(cfg.grpo, {"capability_aware": spec["capability_aware"]}),
                 "data": _sha(Path(data["synth_train"])), "from": arm_key(cfg, data, spec["from"], seed)}
    return config_hash({"arm": arm, "seed": seed, "model": cfg.model, **parts})


def finished_arm(cfg: BalanceConfig, run_dir: Path, data: dict[str, Any], arm: str, seed: int) -> bool:
    """True when the pieces hold this arm's training record (same :func:`arm_key`) and every measure of
    the model it names: the arm needs neither training nor measuring (a sitting on a fresh machine)."""
    from balance_report import TRAINING, pieces_dir

    res_dir = pieces_dir(cfg, run_dir) / f"{arm}-s{seed}"
    try:
        record = json.loads((res_dir / TRAINING).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if record.get("arm_key") != arm_key(cfg, data, arm, seed):
        return False
    return all(_piece_done(res_dir / f"{m}.json", config_hash(
        {"measure": m, "model": record["fingerprint"], **measure_settings(cfg, data, m)})) for m in cfg.measures)


def record_training(cfg: BalanceConfig, run_dir: Path, data: dict[str, Any], arm: str, seed: int,
                    manifest: dict[str, Any]) -> None:
    """Copy the arm's training manifest (seconds, summary, fingerprint) beside its pieces."""
    from balance_report import COSINES, TRAINING, pieces_dir

    path = pieces_dir(cfg, run_dir) / f"{arm}-s{seed}" / TRAINING
    record = {"arm_key": arm_key(cfg, data, arm, seed), **{k: manifest.get(k) for k in (
        "stage", "fingerprint", "seconds", "summary", "finished")}}
    cosines = Path(manifest["final_abs"]).parent / COSINES if manifest.get("final_abs") else None
    if cosines is not None and cosines.is_file():  # a capability-aware arm's per-step gradient cosines
        write_json(path.parent / COSINES, json.loads(cosines.read_text()))
    try:
        if json.loads(path.read_text()) == record:
            return
    except (OSError, json.JSONDecodeError):
        pass
    write_json(path, record)


def eval_device(cfg: BalanceConfig) -> str | None:
    """Where the measures run: ``cfg.device``; auto = the GPU when there is one."""
    if cfg.device != "auto":
        return cfg.device
    import torch

    return "cuda" if torch.cuda.is_available() else None


def open_graph(data: dict[str, Any]) -> Any:
    """The graph of the synth measure's flags; None where it is not on this machine (the flags are added
    by :func:`backfill_graph_flags` where it is)."""
    if not Path(data["graph"]).exists():
        print(f"balance: {data['graph']} not here: synth answers are judged now, graph flags added later",
              flush=True)
        return None
    from balancedbio.knowledge.graph import KnowledgeGraph

    return KnowledgeGraph.open(data["graph"])


def backfill_graph_flags(cfg: BalanceConfig, run_dir: Path, data: dict[str, Any]) -> int:
    """Add the hallucination/contradiction flags to every synth result written without them (on a machine
    without the graph, or before the flags existed), from the stored answers; returns how many files."""
    import balance_measures as M
    from balance_report import pieces_dir

    todo = [p for p in sorted(pieces_dir(cfg, run_dir).glob("*/synth.json"))
            if "contradiction" not in json.loads(p.read_text())["items"]]
    if not todo or not Path(data["graph"]).exists():
        return 0
    graph = open_graph(data)
    rows = synth_rows(cfg, data)
    for path in todo:
        blob = json.loads(path.read_text())
        texts = [blob["extra"]["completions"][str(r["id"])] for r in rows]
        blob["items"].update(M.graph_flags(rows, texts, graph))
        write_json(path, blob)
    return len(todo)


# ------------------------------------------------------------------------------------------- main
def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="experiment YAML (configs/experiments/balance.yaml)")
    p.add_argument("--output", help="results JSON (default <run>/balance.json); the plot is its .png")
    p.add_argument("--max-hours", type=float, default=None, help="start no new piece after this long")
    p.add_argument("--plan", help="config of the full run: the power table is sized for it (for a pilot)")
    p.add_argument("--report-only", action="store_true", help="rewrite the JSON and plot from finished pieces")
    p.add_argument("--prepare-only", action="store_true",
                   help="build the data (kg, synth, SFT file, IFEval subset) and stop")
    p.add_argument("--train-only", action="store_true", help="train the arms (resumable) and measure nothing")
    p.add_argument("--prepared", action="store_true",
                   help="use the data a --prepare-only sitting wrote, without the kg and synth stages")
    p.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the config")
    return p.parse_args(argv)


def validate(cfg: BalanceConfig, *, prepared: bool = False) -> None:
    """Every section checked before anything runs (one line naming the key on a bad value); with
    ``prepared`` the IFEval subset was drawn already (the input file need not be on this machine)."""
    from balancedbio.train.grpo import GRPORecipeConfig
    from balancedbio.train.sft import SFTRecipeConfig

    if "ifeval" in cfg.measures and not cfg.ifeval_input and not prepared:
        raise ConfigError("ifeval_input: IFEval prompts are not packaged; set it to the official input_data.jsonl "
                          "(or 'hub' with allow_download=true), or drop ifeval from measures")
    if "ifeval" in cfg.measures and cfg.ifeval_input != "hub" and not Path(cfg.ifeval_input).expanduser().is_file() \
            and not cfg.allow_download and not prepared:
        raise ConfigError(f"ifeval_input: {cfg.ifeval_input}: not found")
    if not cfg.seeds:
        raise ConfigError("seeds: at least one training seed")
    _wired(merge_dicts(cfg.sft, {"train": {"method": "bft"}}), SFTRecipeConfig,
           {"model.name_or_path": cfg.model, "data.path": "x.jsonl", "output_dir": "x"}, "sft.")
    _wired(cfg.grpo, GRPORecipeConfig, {"model.name_or_path": cfg.model, "data": "x.jsonl", "output_dir": "x"},
           "grpo.")


def main(argv: list[str] | None = None) -> int:
    from balance_report import write_results

    args = _parse(argv)
    try:
        cfg = load_config(BalanceConfig, args.config, args.overrides)
        plan_cfg = load_config(BalanceConfig, args.plan) if args.plan else None
        validate(cfg, prepared=args.prepared)
    except (ConfigError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_dir = Path(cfg.output_root) / cfg.name
    out = Path(args.output) if args.output else run_dir / "balance.json"
    t0 = time.time()
    deadline = t0 + 3600 * args.max_hours if args.max_hours else None
    try:
        data = load_prepared(cfg, run_dir) if args.prepared else prepare_data(cfg, run_dir)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.prepare_only:
        print(f"balance: data prepared in {run_dir / 'data'}")
        return 0
    missing: list[str] = []
    plan = ([("base", None)] if "base" in cfg.arms else []) + [(a, s) for a in cfg.arms if a != "base" for s in cfg.seeds]
    for arm, seed in plan:
        if args.report_only:
            break
        if deadline is not None and time.time() > deadline:
            missing += [f"{arm}/{seed}/*"]
            continue
        if arm == "base":
            spec, model_id = cfg.model, f"base:{cfg.model}"
        elif finished_arm(cfg, run_dir, data, arm, seed):
            print(f"balance: {arm} seed {seed}: trained and measured already (pieces in "
                  f"{cfg.results_dir or run_dir / 'results'})", flush=True)
            continue
        else:
            manifest = train_arm(cfg, run_dir, data, arm, seed)
            record_training(cfg, run_dir, data, arm, seed, manifest)
            spec, model_id = manifest["final_abs"], manifest["fingerprint"]
        if args.train_only:
            continue
        missing += [f"{arm}/{seed}/{m}" for m in run_measures(cfg, run_dir, data, arm, seed, spec, model_id, deadline)]
    if args.train_only:
        print("balance: arms trained (--train-only)")
        return 0
    if backfill_graph_flags(cfg, run_dir, data):
        print("balance: graph flags added to synth results written without the graph")
    meta = {"config": to_dict(cfg), "git_commit": _git_commit(), "written_by": "report-only" if args.report_only else "run",
            "wall_clock_s_this_sitting": round(time.time() - t0, 1),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.machine(),
                        "loadavg_at_end": os.getloadavg()},
            "data": {**data["counts"], "synth_test_sha256": _sha(Path(data["synth_test"])),
                     "ifeval_subset": (json.loads((run_dir / "data" / "ifeval_subset.json").read_text())
                                       if data["ifeval_subset"] else None)},
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    report = write_results(cfg, run_dir, out, meta, plan_cfg)
    print(f"balance: wrote {out} ({'partial' if report['partial'] else 'complete'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

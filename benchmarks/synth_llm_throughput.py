"""Teacher requests per second through synth's ChatClient at several concurrency levels, one run.

The prompts are real teacher prompts (toy-graph seeds, the four capabilities in turn); each level sends
``--items`` of them with ``llm.concurrency`` = that level in flight and measures the wall time until the
last answer. Without ``--url`` the script starts ``transformers serve`` with the default model on a free
localhost port (once per ``--modes`` entry: ``plain`` = one request at a time inside the server,
``cb`` = its continuous batching), with ``--threads`` torch threads; with ``--url`` it measures that server
(e.g. vLLM on a GPU). The JSON names the machine and its load (``os.getloadavg`` before and after).

CPU, as measured for docs/synth.md::

    python benchmarks/synth_llm_throughput.py --items 16 --max-tokens 16 --concurrency 1 4 16 \\
        --modes plain cb --out benchmarks/results/synth_llm_throughput_cpu.json

A GPU server (vLLM serving an open model)::

    python benchmarks/synth_llm_throughput.py --url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-7B-Instruct \\
        --items 512 --max-tokens 256 --concurrency 1 16 64 --out benchmarks/results/synth_llm_throughput_vllm.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CAPS = ("expertise", "reasoning", "instruction", "integration")


def teacher_prompts(n: int) -> list[list[dict[str, str]]]:
    from balancedbio.knowledge.graph import KnowledgeGraph
    from balancedbio.knowledge.toy import build_toy_graph
    from balancedbio.synth.pools import Closures, Pools
    from balancedbio.synth.seeds import SeedSampler
    from balancedbio.synth.teacher import seed_messages

    graph = KnowledgeGraph.open(build_toy_graph(Path(tempfile.mkdtemp(prefix="bench-kg-"))))
    pools = Pools.load(graph, seed=0, test_fraction=0.0)
    sampler = SeedSampler(pools, Closures(pools))
    out, i = [], 0
    while len(out) < n:
        seed = sampler.sample(CAPS[len(out) % 4], random.Random(i), "train")
        i += 1
        if seed is not None:
            out.append(seed_messages(seed))
    return out


def start_server(model_dir: str, threads: int, flags: list[str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("transformers")), "serve", model_dir, "--host",
                             "127.0.0.1", "--port", str(port), "--device", "cpu", *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(360):
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).close()
            return proc, url
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("transformers serve did not start in 180 s")


def measure(url: str, model: str, prompts, levels: list[int], max_tokens: int) -> list[dict]:
    from balancedbio.synth.client import ChatClient

    rows = []
    for round_, level in enumerate(levels):
        client = ChatClient(url, model, api_key_env="", timeout_s=600, retries=0, concurrency=level)
        client.submit(prompts[0], seed=10_000 + round_, max_tokens=4, temperature=0.7).result()   # warm-up
        t0 = time.perf_counter()
        futs = [client.submit(p, seed=round_ * 1_000 + i, max_tokens=max_tokens, temperature=0.7)
                for i, p in enumerate(prompts)]
        for f in futs:
            f.result()
        wall = time.perf_counter() - t0
        client.close()
        rows.append({"concurrency": level, "items": len(prompts), "wall_s": round(wall, 2),
                     "items_per_s": round(len(prompts) / wall, 3)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=None, help="measure this server instead of starting transformers serve")
    ap.add_argument("--model", default=None, help="model name to request (default: the default model's dir)")
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--modes", nargs="+", default=["plain", "cb"], choices=("plain", "cb"))
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the started server")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    prompts = teacher_prompts(args.items)
    load_before = os.getloadavg()
    result = {"benchmark": "synth_llm_throughput", "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
              "load_avg_before": [round(x, 2) for x in load_before], "items": args.items,
              "max_tokens": args.max_tokens, "prompt_chars_mean": round(
                  sum(len(m[-1]["content"]) + len(m[0]["content"]) for m in prompts) / len(prompts)),
              "runs": []}
    if args.url:
        rows = measure(args.url, args.model, prompts, args.concurrency, args.max_tokens)
        result["runs"].append({"server": args.url, "model": args.model, "levels": rows})
    else:
        import transformers

        from balancedbio.models import resolve_model

        model_dir = str(resolve_model("default"))
        for mode in args.modes:
            flags = ["--continuous-batching"] if mode == "cb" else []
            proc, url = start_server(model_dir, args.threads, flags)
            try:
                rows = measure(url, model_dir, prompts, args.concurrency, args.max_tokens)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            result["runs"].append({"server": f"transformers serve {' '.join(flags)}".strip(),
                                   "transformers": transformers.__version__, "torch_threads": args.threads,
                                   "model": "SmolLM2-135M-Instruct (default, safetensors)", "levels": rows})
    result["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

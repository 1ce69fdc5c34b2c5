"""``balancedbio ifeval``: score responses in IFEval's file formats with the official metrics.

``--input-data`` is IFEval's ``input_data.jsonl`` (``key, prompt, instruction_id_list, kwargs``; IFBench's
file has the same format) or, with ``--allow-download``, the hub id ``google/IFEval``. ``--responses`` is
a JSONL of ``{"prompt", "response"}`` answering every prompt of the input; as in the official code, responses to
prompts that are not in the input are ignored (and counted). Instructions are judged by the
maintained IFEval/IFBench verifiers (``if-verifiable``); docs/eval.md shows the command that
reproduces the official IFEval figures from the released GPT-4 responses.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ifeval", help="score IFEval-format responses (prompt/instruction level, strict/loose)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input-data", required=True, metavar="FILE", help="input_data.jsonl, or a hub id with --allow-download")
    p.add_argument("--responses", required=True, metavar="FILE", help="JSONL of {prompt, response}")
    p.add_argument("--output", "-o", default=None, metavar="FILE", help="also write the metrics and per-prompt results as JSON")
    p.add_argument("--allow-download", action="store_true", help="allow fetching a hub id (offline by default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from balancedbio.eval.ifeval import score_responses

    if args.output:
        from balancedbio.inputs import check_output_file

        check_output_file(args.output, force=True)  # a bad place fails before the scoring, not after
    m = score_responses(args.input_data, args.responses, allow_download=args.allow_download,
                        per_prompt=bool(args.output))
    n_p, n_i = m["n_prompts"], m["n_instructions"]
    for key, n in (("prompt_level_strict_acc", n_p), ("inst_level_strict_acc", n_i),
                   ("prompt_level_loose_acc", n_p), ("inst_level_loose_acc", n_i)):
        v = m[key]
        print(f"{key:24s} {'-' if v is None else f'{v:.4f}  ({round(v * n)}/{n})'}")
    if m.get("n_ignored_responses"):
        print(f"ignored responses        {m['n_ignored_responses']} (their prompts are not in the input)")
    if m.get("n_skipped"):
        print(f"skipped prompts          {m['n_skipped']} (their instructions need NLTK data that is not installed)")
    if args.output:
        from balancedbio.atomic import write_json

        write_json(args.output, m)
        print(f"written: {args.output}")
    return 0

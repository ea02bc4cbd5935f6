"""`rwkv-mteb generate-tasks` (write a generated task's files where a user can read them) and `rwkv-mteb
scaling` (a model's cost per token and peak memory by input length)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rwkv_mteb.errors import TaskDefinitionError


def _generate(args: argparse.Namespace) -> None:
    from rwkv_mteb.tasks.generators import write_files
    from rwkv_mteb.tasks.spec import load_task_specs

    specs = {s.name: s for s in load_task_specs() if s.generated is not None}
    names = args.tasks or sorted(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise TaskDefinitionError(f"{unknown} are not generated tasks; generated tasks: {sorted(specs)}")
    for name in names:
        digests = write_files(specs[name], Path(args.out) / name)
        declared = {split: spec.files for split, spec in specs[name].splits.items()}
        same = all(declared[split] == {k: v for k, v in files.items() if k in declared[split]}
                   for split, files in digests.items())  # fmt: skip
        verdict = "every checksum equals the task file's" if same else "CHECKSUMS DIFFER from the task file"
        print(f"{name}: {len(digests)} splits in {Path(args.out) / name}; {verdict}")
        if not same:
            raise TaskDefinitionError(f"{name}: the generated files differ from {specs[name].path}'s checksums")


def add_generate_tasks(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate-tasks", help="Write the generated tasks' files (long-context suite), checksums checked"
    )
    p.add_argument("tasks", nargs="*", help="task names (default: every generated task)")
    p.add_argument("--out", required=True, help="folder to write <task>/<split>/*.tsv into")
    p.set_defaults(func=_generate)


def _scaling(args: argparse.Namespace) -> None:
    from rwkv_mteb.runs.scaling import scaling, write

    curve = scaling(args.model, args.lengths, device=args.device, dtype=args.dtype, rounds=args.rounds)
    for key in ("seconds_per_token_spread", "peak_rss_spread"):
        if (value := getattr(curve, key)) is not None:
            print(f"{key.replace('_', ' ')} over the lengths read whole: {100 * value:.1f}% (max / min - 1)")
    if args.out:
        write(curve, Path(args.out))
        print(f"written: {args.out}")


def add_scaling(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scaling", help="Cost of one long input by length: seconds per token, peak memory")
    p.add_argument("-m", "--model", required=True, help="a language model name (`rwkv-mteb models`)")
    p.add_argument("--lengths", type=int, nargs="+", default=[512, 2048, 8192, 32768], help="input lengths in tokens")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when there is one)")
    p.add_argument("--dtype", help="float32, bfloat16, float16 (default: bfloat16 on a GPU, else float32)")
    p.add_argument(
        "--rounds", type=int, default=1,
        help="measure every length this many times, in turn, each in fresh processes, and keep the fastest "
        "(a process's speed strays 10-20%% on a shared machine; 3 for a curve whose flatness you mean to read)",
    )  # fmt: skip
    p.add_argument("--out", help="write the curve as JSON here; under <results>/scaling/ the board plots it")
    p.set_defaults(func=_scaling)

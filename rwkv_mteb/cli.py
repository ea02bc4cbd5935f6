"""``rwkv-mteb``: every ``mteb`` subcommand with the same flags, plus the project's own."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.logging import RichHandler

import rwkv_mteb
from rwkv_mteb.commands.cache import add_cache
from rwkv_mteb.commands.long_inputs import add_generate_tasks, add_scaling
from rwkv_mteb.commands.train import add_train
from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.layerwise.variants import ALL_POOLINGS
from rwkv_mteb.metrics.layer_metrics import AUGMENTED_SAMPLE, DIAGNOSTIC_SAMPLE, RENYI_ORDER
from rwkv_mteb.models.listing import model_listing
from rwkv_mteb.mteb_internals import (
    add_benchmark_selection_args,
    add_task_selection_args,
    build_cli,
    evaluations_captured,
    models_loaded_by_mteb_wrapped,
    remove_subcommand,
    subcommands,
)
from rwkv_mteb.provenance.profiling import profile

DEFAULT_MODELS = [
    "stanfordnlp/glove.6B.50d",
    "sentence-transformers/all-MiniLM-L6-v2",
    "sentence-transformers/all-mpnet-base-v2",
]
DEFAULT_TASKS = ["MRPCZeroShot"]
OVERWRITE_STRATEGIES = ["always", "never", "only-missing", "only-cache"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer; use 1 or more")
    return value


def print_scores(results: list[Any]) -> None:
    """The main score of every model, task and split just evaluated (or found in the results folder)."""
    for model_result in results:
        for task_result in model_result.task_results:
            for split, rows in sorted(task_result.scores.items()):
                for row in rows:
                    subset = "" if row.get("hf_subset", "default") == "default" else f" [{row['hf_subset']}]"
                    print(
                        f"{model_result.model_name}  {task_result.task_name}/{split}{subset}  "
                        f"main score {row.get('main_score', float('nan')):.4f}",
                        flush=True,
                    )


def _profiled_run(original_run):  # type: ignore[no-untyped-def]
    """mteb's own ``run``, with every model it loads wrapped by the profiling hook and the scores printed."""

    def run(args: argparse.Namespace) -> None:
        with models_loaded_by_mteb_wrapped(profile), evaluations_captured() as results:
            original_run(args)
        print_scores(results)

    return run


def _models(args: argparse.Namespace) -> None:
    print(model_listing(expand=args.all))


def _protocol(args: argparse.Namespace) -> None:
    from rwkv_mteb.runs.protocol import protocol  # sentence-transformers and torch: only for this command

    results = protocol(
        models=args.models,
        tasks=args.tasks,
        output_folder=Path(args.output_folder),
        batch_size=args.batch_size,
        device=args.device,
        eval_splits=args.eval_splits,
        overwrite_strategy=args.overwrite_strategy,
        devices=args.devices,
        executor=args.executor,
        address=args.address,
        workers=args.workers,
    )
    print_scores(results)
    print(f"results written under {args.output_folder}/results")


def _add_executor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="ray: units on Ray actors")
    p.add_argument("--address", default=None, help="a Ray cluster to join (default: RAY_ADDRESS, else a local one)")
    p.add_argument("--workers", type=positive_int, default=None, help="Ray actors (default: one per GPU, else per CPU)")


def _add_protocol(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protocol", help="Run the seed paper's protocol: models x tasks, MTEB result files")
    p.add_argument("-m", "--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("-t", "--tasks", nargs="+", default=DEFAULT_TASKS)
    p.add_argument("--eval-splits", nargs="+", default=None, help="default: each task's own eval splits")
    p.add_argument("--output-folder", default="results")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite-strategy", default="only-missing", choices=OVERWRITE_STRATEGIES)
    p.add_argument(
        "--devices", nargs="+", default=None, help="encode sentence-transformers baselines on several devices at once"
    )
    _add_executor(p)
    p.set_defaults(func=_protocol)


def _sweep(args: argparse.Namespace) -> None:
    from rwkv_mteb.runs.sweep import sweep  # torch and the model code: only for this command

    selected = args.tasks or args.task_types or args.languages or args.categories or args.benchmarks
    results = sweep(
        model=args.model,
        tasks=args.tasks if selected else DEFAULT_TASKS,
        layers=args.layers,
        poolings=args.pooling,
        prompts=args.prompt,
        ablations=args.ablate,
        output_folder=Path(args.output_folder),
        batch_size=args.batch_size,
        device=args.device,
        eval_splits=args.eval_splits,
        overwrite_strategy=args.overwrite_strategy,
        metric_sample=args.metric_sample,
        augmented_sample=args.augmented_sample,
        alpha=args.alpha,
        executor=args.executor,
        address=args.address,
        workers=args.workers,
        dtype=args.dtype,
        task_types=args.task_types,
        languages=args.languages,
        categories=args.categories,
        benchmarks=args.benchmarks,
    )
    print_scores(results)
    print(f"{len(results)} variants evaluated; results under {args.output_folder}/results")


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="Evaluate every layer (x pooling x prompt) of a language model on any MTEB tasks, one pass per prompt",
    )
    p.add_argument("-m", "--model", required=True, help="a language model, e.g. RWKV/v6-Finch-1B6-HF")
    add_task_selection_args(p)  # the task selection of `mteb run` (default here: MRPCZeroShot)
    add_benchmark_selection_args(p)
    p.add_argument("--layers", nargs="+", type=int, default=None, help="default: every hidden state")
    p.add_argument("--pooling", nargs="+", default=["mean"], choices=ALL_POOLINGS, help="one forward pass for "
                   "all; wkv_state, wkv_state_full, shift_state: RWKV's state after the last token")  # fmt: skip
    p.add_argument(
        "--prompt",
        nargs="+",
        default=["none"],
        help="none, eol (PromptEOL), echo (text twice, second copy pooled) or templates with {text}; one pass each; "
        "METHOD@query / METHOD@document: that side of a retrieval task only (the other side and symmetric tasks plain)",
    )
    p.add_argument(
        "--ablate",
        nargs="+",
        default=["none"],
        help="interventions, one pass each: none (intact), time_mix@3, channel_mix@0-5, block@2, decay=static@1, "
        "decay=scale:0.5@4 (RWKV), attention@3, mlp@5, block@2 (transformers); join several with +",
    )
    p.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"], help="default: float32 on "
                   "the CPU, bfloat16 on CUDA; anything but float32 is named in the revision")  # fmt: skip
    p.add_argument("--eval-splits", nargs="+", default=None)
    p.add_argument("--output-folder", default="results")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite-strategy", default="only-missing", choices=OVERWRITE_STRATEGIES)
    p.add_argument("--metric-sample", type=positive_int, default=DIAGNOSTIC_SAMPLE, help="distinct texts per task "
                   "the label-free layer metrics are computed on (a seeded sample)")  # fmt: skip
    p.add_argument("--augmented-sample", type=int, default=AUGMENTED_SAMPLE, help="texts per task augmented (16 "
                   "views each) for the LiDAR, DiME and InfoNCE layer metrics; 0 skips them")  # fmt: skip
    p.add_argument("--alpha", type=float, default=RENYI_ORDER, help="Renyi order of the layer metrics' entropies")
    _add_executor(p)
    p.set_defaults(func=_sweep)


def _analyze(args: argparse.Namespace) -> None:
    from rwkv_mteb.analysis.run import analyze  # torch and the model code: only for this command

    written = analyze(
        args.models, args.tasks, Path(args.output_folder), args.sample, args.batch_size, args.device, args.seed,
        args.eval_splits,
    )  # fmt: skip
    print(f"{len(written)} analysis files written under {args.output_folder}/analysis")


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="Per layer: weight spectra, RWKV decay and memory length, gradient norms by length, CKA (paper's 6)",
    )
    p.add_argument("-m", "--models", nargs="+", required=True, help="language models; together: CKA across them")
    p.add_argument("-t", "--tasks", nargs="+", default=DEFAULT_TASKS, help="whose texts (as MTEB encodes them)")
    p.add_argument("--eval-splits", nargs="+", default=None)
    p.add_argument("--sample", type=positive_int, default=256, help="distinct texts per task (seeded sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-folder", default="results")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_analyze)


def _make_checkpoint(args: argparse.Namespace) -> None:
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint  # torch: only for this command

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise RwkvMtebError(f"{out} exists and is not empty; choose another --out or pass --force to overwrite it")
    written = make_checkpoint(
        out,
        layers=args.layers,
        hidden=args.hidden,
        head_size=args.head_size,
        vocab=args.vocab,
        seed=args.seed,
        fmt=args.format,
        ffn=args.ffn,
        arch=args.arch,
    )
    arch = "RWKV-7" if args.arch == "rwkv7" else "RWKV-6"
    print(f"random {arch} checkpoint ({args.layers} x {args.hidden}, seed {args.seed}) written to {written}")


def _add_make_checkpoint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("make-checkpoint", help="Write a random RWKV-6 or RWKV-7 checkpoint (tests, demos, benchmarks)")
    p.add_argument("--arch", default="rwkv6", choices=["rwkv6", "rwkv7"])
    p.add_argument("--layers", type=positive_int, required=True)
    p.add_argument("--hidden", type=positive_int, required=True)
    p.add_argument("--head-size", type=positive_int, default=64)
    p.add_argument("--vocab", type=positive_int, default=65536)
    p.add_argument("--ffn", type=positive_int, default=None, help="default: int(hidden * 3.5) // 32 * 32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", default=None, choices=["hf", "pth"], help="default: hf for rwkv6, pth for rwkv7")
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    p.set_defaults(func=_make_checkpoint)


def _leaderboard(args: argparse.Namespace) -> None:
    from rwkv_mteb.board.publish import publish  # matplotlib and plotly: only for this command

    command = ["rwkv-mteb", "leaderboard", "--results", *args.results, "--out", args.out]
    board = publish([Path(r) for r in args.results], Path(args.out), command)
    print(
        f"{len(board.entries)} entries, {len(board.comparisons)} paired comparisons, "
        f"{len(board.warnings)} warnings; written to {args.out}/"
    )


def _add_leaderboard(sub: argparse._SubParsersAction) -> None:
    remove_subcommand(sub, "leaderboard")  # mteb's web app stays available as `mteb leaderboard`
    p = sub.add_parser("leaderboard", help="Build the published leaderboard (JSON, tables, plots) from results")
    p.add_argument("--results", nargs="+", required=True, help="MTEB result folders (an --output-folder)")
    p.add_argument("--out", default="leaderboard")
    p.set_defaults(func=_leaderboard)


def _migrate(args: argparse.Namespace) -> None:
    from rwkv_mteb.provenance.migrate import migrate

    variants, predictions = migrate(Path(args.folder))
    print(f"moved {variants} variant folder(s) and {predictions} prediction file(s) into MTEB's experiment layout")


def _add_migrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate-results", help="Move variant folders of older runs into MTEB's experiment layout")
    p.add_argument("folder", help="an --output-folder of a run (holding results/)")
    p.set_defaults(func=_migrate)


def build_parser() -> argparse.ArgumentParser:
    parser = build_cli()
    parser.prog = "rwkv-mteb"
    parser.description = "rwkv-mteb: MTEB's commands, plus the project's own (models, protocol, ...)"
    sub = subcommands(parser)
    run_parser = sub.choices["run"]
    # quieter than mteb's default (-v 2 logs its whole argument namespace): warnings and the scores; -v 2 for more
    run_parser.set_defaults(func=_profiled_run(run_parser.get_default("func")), verbosity=1)
    models = sub.add_parser("models", help="List the model names rwkv-mteb serves, grouped by family")
    models.add_argument("--all", action="store_true", help="every variant name on its own line")
    models.set_defaults(func=_models)
    _add_protocol(sub)
    _add_sweep(sub)
    _add_analyze(sub)
    _add_leaderboard(sub)
    _add_migrate(sub)
    _add_make_checkpoint(sub)
    add_cache(sub)
    add_generate_tasks(sub)
    add_scaling(sub)
    add_train(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(rich_tracebacks=True)])
    try:
        rwkv_mteb.register()
        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help()
            return 2
        args.func(args)
    except RwkvMtebError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

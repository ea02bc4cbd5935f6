"""``rwkv-mteb``: every ``mteb`` subcommand with the same flags, plus the project's own."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from rwkv_mteb.errors import RwkvMtebError

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
        from rwkv_mteb.profiling import profile
        from rwkv_mteb.seams import evaluations_captured, models_loaded_by_mteb_wrapped

        with models_loaded_by_mteb_wrapped(profile), evaluations_captured() as results:
            original_run(args)
        print_scores(results)

    return run


def _models(args: argparse.Namespace) -> None:
    from rwkv_mteb.model_listing import model_listing

    print(model_listing(expand=args.all))


def _protocol(args: argparse.Namespace) -> None:
    """The paper's protocol, extended: every model on every task's default splits, results in MTEB's layout."""
    import time
    from pathlib import Path

    import mteb

    from rwkv_mteb.profiling import profile

    out = Path(args.output_folder)
    tasks = mteb.get_tasks(tasks=args.tasks, eval_splits=args.eval_splits)
    results = []
    for name in args.models:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        model = profile(mteb.get_model(name, device=args.device), load_seconds=time.perf_counter() - start)
        results.append(
            mteb.evaluate(
                model,
                tasks,
                cache=mteb.ResultCache(out),
                prediction_folder=out / "predictions" / model.mteb_model_meta.model_name_as_path(),
                encode_kwargs={"batch_size": args.batch_size},
                overwrite_strategy=args.overwrite_strategy,
                show_progress_bar=True,
            )
        )
        print_scores(results[-1:])
    print(f"results written under {out}/results")


def _add_protocol(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protocol", help="Run the seed paper's protocol: models x tasks, MTEB result files")
    p.add_argument("-m", "--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("-t", "--tasks", nargs="+", default=DEFAULT_TASKS)
    p.add_argument("--eval-splits", nargs="+", default=None, help="default: each task's own eval splits")
    p.add_argument("--output-folder", default="results")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite-strategy", default="only-missing", choices=OVERWRITE_STRATEGIES)
    p.set_defaults(func=_protocol)


def _sweep(args: argparse.Namespace) -> None:
    from pathlib import Path

    from rwkv_mteb.sweep import sweep

    results = sweep(
        args.model,
        args.tasks,
        args.layers,
        args.pooling,
        Path(args.output_folder),
        args.batch_size,
        args.device,
        args.eval_splits,
        args.overwrite_strategy,
    )
    print_scores(results)
    print(f"{len(results)} layer variants evaluated; results under {args.output_folder}/results")


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="Evaluate every layer of a language model from one pass over the data")
    p.add_argument("-m", "--model", required=True, help="a language model, e.g. RWKV/v6-Finch-1B6-HF")
    p.add_argument("-t", "--tasks", nargs="+", default=DEFAULT_TASKS)
    p.add_argument("--layers", nargs="+", type=int, default=None, help="default: every hidden state")
    p.add_argument("--pooling", default="mean", choices=["mean", "max", "last", "first_last"])
    p.add_argument("--eval-splits", nargs="+", default=None)
    p.add_argument("--output-folder", default="results")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite-strategy", default="only-missing", choices=OVERWRITE_STRATEGIES)
    p.set_defaults(func=_sweep)


def _make_checkpoint(args: argparse.Namespace) -> None:
    from pathlib import Path

    from rwkv_mteb.rwkv.checkpoint import make_checkpoint
    from rwkv_mteb.rwkv.checkpoint7 import make_checkpoint7

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise RwkvMtebError(f"{out} exists and is not empty; choose another --out or pass --force to overwrite it")
    make = make_checkpoint7 if args.arch == "rwkv7" else make_checkpoint
    written = make(
        out,
        layers=args.layers,
        hidden=args.hidden,
        head_size=args.head_size,
        vocab=args.vocab,
        seed=args.seed,
        fmt=args.format or ("pth" if args.arch == "rwkv7" else "hf"),
        ffn=args.ffn,
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
    from pathlib import Path

    from rwkv_mteb.leaderboard import publish

    command = ["rwkv-mteb", "leaderboard", "--results", *args.results, "--out", args.out]
    board = publish([Path(r) for r in args.results], Path(args.out), command)
    print(
        f"{len(board['entries'])} entries, {len(board['comparisons'])} paired comparisons, "
        f"{len(board['warnings'])} warnings; written to {args.out}/"
    )


def _add_leaderboard(sub: argparse._SubParsersAction) -> None:
    from rwkv_mteb.seams import remove_subcommand

    remove_subcommand(sub, "leaderboard")  # mteb's web app stays available as `mteb leaderboard`
    p = sub.add_parser("leaderboard", help="Build the published leaderboard (JSON, tables, plots) from results")
    p.add_argument("--results", nargs="+", required=True, help="MTEB result folders (an --output-folder)")
    p.add_argument("--out", default="leaderboard")
    p.set_defaults(func=_leaderboard)


def build_parser() -> argparse.ArgumentParser:
    from mteb.cli.build_cli import build_cli

    from rwkv_mteb.seams import subcommands

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
    _add_leaderboard(sub)
    _add_make_checkpoint(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(rich_tracebacks=True)])
    try:
        import rwkv_mteb

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

"""``rwkv-mteb``: every ``mteb`` subcommand with the same flags, plus the project's own."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from rwkv_mteb.errors import RwkvMtebError

DEFAULT_MODELS = [
    "stanfordnlp/glove.6B.50d",
    "sentence-transformers/all-MiniLM-L6-v2",
    "sentence-transformers/all-mpnet-base-v2",
]
DEFAULT_TASKS = ["MRPCZeroShot"]

# subcommand name -> function(subparsers) that adds it; other modules add theirs here
EXTENSIONS: list[Callable[[argparse._SubParsersAction], None]] = []


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _models(args: argparse.Namespace) -> None:
    import mteb

    from rwkv_mteb.model_metas import BUILDERS

    for name in sorted(BUILDERS):
        meta = mteb.get_model_meta(name)
        print(f"{name}\t{meta.revision or '-'}\tdim={meta.embed_dim}")


def _protocol(args: argparse.Namespace) -> None:
    """The paper's protocol, extended: every model on every task's default splits, results in MTEB's layout."""
    from pathlib import Path

    import mteb

    out = Path(args.output_folder)
    tasks = mteb.get_tasks(tasks=args.tasks, eval_splits=args.eval_splits)
    for name in args.models:
        print(f"== {name}", flush=True)
        model = mteb.get_model(name, device=args.device)
        mteb.evaluate(
            model,
            tasks,
            cache=mteb.ResultCache(out),
            prediction_folder=out / "predictions" / model.mteb_model_meta.model_name_as_path(),
            encode_kwargs={"batch_size": args.batch_size},
            overwrite_strategy=args.overwrite_strategy,
            show_progress_bar=False,
        )
    print(f"results written under {out}/results")


def _add_protocol(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("protocol", help="Run the seed paper's protocol: models x tasks, MTEB result files")
    p.add_argument("-m", "--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("-t", "--tasks", nargs="+", default=DEFAULT_TASKS)
    p.add_argument("--eval-splits", nargs="+", default=None, help="default: each task's own eval splits")
    p.add_argument("--output-folder", default="results")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None)
    p.add_argument(
        "--overwrite-strategy", default="only-missing", choices=["always", "never", "only-missing", "only-cache"]
    )
    p.set_defaults(func=_protocol)


def build_parser() -> argparse.ArgumentParser:
    from mteb.cli.build_cli import build_cli

    parser = build_cli()
    parser.prog = "rwkv-mteb"
    parser.description = "rwkv-mteb: MTEB's commands, plus the project's own (models, protocol, ...)"
    sub = _subparsers(parser)
    models = sub.add_parser("models", help="List the model names rwkv-mteb serves")
    models.set_defaults(func=_models)
    _add_protocol(sub)
    for extend in EXTENSIONS:
        extend(sub)
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

"""`rwkv-mteb train`: every key of :class:`~rwkv_mteb.training.spec.TrainSpec` as a flag (``--config`` reads
them from a TOML file first), then the trained folder's evaluation through MTEB (``--evaluate TASK:SPLIT``),
results filed like any model's and the scores written back into its ``training.json``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal, get_args, get_origin


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_spec_flags(p: argparse.ArgumentParser) -> None:
    from rwkv_mteb.training.spec import TrainSpec

    for name, field in TrainSpec.model_fields.items():
        kind = field.annotation
        kinds = [kind] if get_origin(kind) is Literal else [k for k in get_args(kind) or (kind,) if k is not type(None)]
        options: dict[str, Any] = {"dest": name, "default": None, "help": field.description or ""}
        if name == "evaluate":
            options["nargs"] = "+"
        elif get_origin(kinds[0]) is Literal:
            options["choices"] = get_args(kinds[0])
        elif kinds[0] in (int, float):
            options["type"] = kinds[0]
        p.add_argument(*(["-m"] if name == "model" else []), _flag(name), **options)


def evaluate(folder: Path, items: list[str], results: Path) -> dict[str, float]:
    """Each TASK:SPLIT's main score of the saved folder, through `mteb.evaluate` (the overlap check included)."""
    import mteb

    from rwkv_mteb.provenance.sidecars import prediction_folder

    model = mteb.get_model(str(folder))
    scores = {}
    for item in items:
        task_name, split = item.split(":")
        task = mteb.get_task(task_name, eval_splits=[split])
        # per-pair predictions beside the results: the board's intervals and paired tests
        where = prediction_folder(results, model.mteb_model_meta)
        result = mteb.evaluate(
            model, task, cache=mteb.ResultCache(results), show_progress_bar=False, prediction_folder=where
        )
        scores[item] = float(result.task_results[0].scores[split][0]["main_score"])
        print(f"{item}: main score {scores[item]:.4f}")
    return scores


def _train(args: argparse.Namespace) -> None:
    from rwkv_mteb.training.record import TRAINING_FILE
    from rwkv_mteb.training.run import describe, train
    from rwkv_mteb.training.spec import TrainSpec, load_spec

    overrides = {name: getattr(args, name) for name in TrainSpec.model_fields}
    spec = load_spec(Path(args.config) if args.config else None, overrides)
    out = Path(args.out)
    record = train(spec, out)
    print(describe(record))
    if spec.evaluate:
        record.evaluation = evaluate(out, spec.evaluate, Path(args.output_folder or out.parent / "results"))
        (out / TRAINING_FILE).write_text(record.model_dump_json(indent=2) + "\n")


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="Train a head (frozen backbone) or fine-tune a language model (full, LoRA); save, evaluate"
    )
    p.add_argument("--config", help="a TOML file of the keys below (flags override it)")
    p.add_argument("--out", required=True, help="the new model folder (sentence-transformers layout)")
    p.add_argument("--output-folder", help="MTEB results of --evaluate (default: <out>/../results)")
    _add_spec_flags(p)
    p.set_defaults(func=_train)

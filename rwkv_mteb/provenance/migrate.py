"""``rwkv-mteb migrate-results``: result folders written before layer-wise variants were MTEB experiments, moved
into MTEB's experiment layout.

Before, each variant was its own model (``results/<model>_(layer=K,_pooling=P)/<revision>[-ablate-<digest>]/``);
now it is an experiment of its language model (``results/<model>/<revision>/experiments/<name>/``, the variant in
``model_meta.json``'s ``experiment_kwargs``), so ``mteb.ResultCache(...).load_results(load_experiments=
"match_name")`` sees one model with its experiments. Every file of a variant's folder moves (result files,
profiles, commands log), its model meta and profiles are rewritten to the new identity, and its prediction files
move the same way. Nothing is overwritten: a destination file that already exists stops the migration with both
names, before anything of that folder moved.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mteb.models.model_meta import ModelMeta

from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.prompts import BUILTIN_PROMPTS, Prompt
from rwkv_mteb.layerwise.variants import display_name, experiment_kwargs
from rwkv_mteb.provenance.sidecars import atomic_write_json, atomic_write_text, read_json

_ABLATE_SUFFIX = re.compile(r"-ablate-[0-9a-f]+$")


@dataclass(frozen=True)
class Move:
    """One old variant folder and where its files go."""

    source: Path  # results/<old model>/<revision>
    target: Path  # results/<model>/<revision>/experiments/<name>
    meta: dict[str, Any]  # the rewritten model_meta.json
    old_name: str


def _new_meta(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The model meta of an old variant folder as an experiment of its language model; None when it is not one."""
    declared = meta.get("loader_kwargs") or {}
    if declared.get("builder") != "layerwise" or meta.get("experiment_kwargs") or "layers" not in declared:
        return None
    prompt = Prompt.of(declared.get("prompt"))
    kwargs = experiment_kwargs(
        declared["layers"],
        declared.get("pooling", "mean"),
        prompt.name,
        Intervention.parse(declared.get("ablate")).name,
        declared.get("combine", "mean"),
    )
    loader = {k: declared[k] for k in ("builder", "base", "family")}
    if prompt.name not in ("none", *BUILTIN_PROMPTS):
        loader["template"] = prompt.template
    revision = _ABLATE_SUFFIX.sub("", meta.get("revision") or "")
    updates = {"name": declared["base"], "revision": revision, "loader_kwargs": loader, "experiment_kwargs": kwargs}
    return {**meta, **updates, "adapted_from": None}


def plan(output_folder: Path) -> list[Move]:
    """Every old variant folder under ``output_folder/results`` and its destination."""
    moves = []
    for meta_path in sorted((output_folder / "results").glob("*/*/model_meta.json")):
        old = read_json(meta_path, "model meta", "fix or delete it, then migrate again")
        new = _new_meta(old)
        if new is None:
            continue
        meta = ModelMeta.model_construct(name=new["name"], experiment_kwargs=new["experiment_kwargs"])  # MTEB's names
        target = output_folder / "results" / meta.model_name_as_path() / new["revision"] / "experiments"
        target = target / meta.experiment_name
        moves.append(Move(meta_path.parent, target, new, old["name"]))
    return moves


def _clashes(pairs: list[tuple[Path, Path]]) -> None:
    for source, target in pairs:
        if target.exists():
            raise RwkvMtebError(
                f"cannot migrate {source}: {target} already exists (the same variant in both layouts); move one "
                "of them away and migrate again"
            )


def _rewrite_profile(path: Path, name: str, revision: str) -> None:
    data = read_json(path, "profile", "delete it (cost columns become null), then migrate again")
    data["model"] = name
    for record in data.get("records", []):
        record["model"], record["revision"] = name, revision
    atomic_write_json(path, data)


def _move_predictions(output_folder: Path, move: Move, old_folder: str) -> int:
    source = output_folder / "predictions" / old_folder
    if not source.is_dir():
        return 0
    model_folder = move.target.parents[2].name  # results/<model>/<revision>/experiments/<name>
    target = output_folder / "predictions" / model_folder / "experiments" / move.target.name
    files = sorted(source.glob("*_predictions.json"))
    _clashes([(f, target / f.name) for f in files])
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        data["mteb_model_meta"] = {"model_name": move.meta["name"], "revision": move.meta["revision"]}
        atomic_write_text(target / f.name, json.dumps(data))
        f.unlink()
    if not any(source.iterdir()):
        source.rmdir()
    return len(files)


def migrate(output_folder: Path) -> tuple[int, int]:
    """Move every old variant folder (and its predictions) into MTEB's experiment layout; returns (variant
    folders, prediction files) moved. Idempotent: a migrated folder is not found again."""
    if not (output_folder / "results").is_dir():
        raise RwkvMtebError(f"{output_folder} holds no results/ folder; pass the --output-folder of a run")
    moves, predictions = plan(output_folder), 0
    for move in moves:
        files = [p for p in move.source.rglob("*") if p.is_file()]
        _clashes([(f, move.target / f.relative_to(move.source)) for f in files])
        name = display_name(move.meta["name"], move.meta["experiment_kwargs"])
        for f in files:
            dest = move.target / f.relative_to(move.source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(f, dest)
            if dest.parent.name == "profiles":
                _rewrite_profile(dest, name, move.meta["revision"])
        atomic_write_text(move.target / "model_meta.json", json.dumps(move.meta, indent=4, default=str))
        shutil.rmtree(move.source)
        if not any(move.source.parent.iterdir()):
            move.source.parent.rmdir()
        predictions += _move_predictions(output_folder, move, move.source.parent.name)
    return len(moves), predictions

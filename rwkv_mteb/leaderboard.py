"""``rwkv-mteb leaderboard``: MTEB result folders, per-pair predictions and profiles -> a published board.

Reads ``<DIR>/results/<model>/<revision>/<task>.json`` (MTEB's layout; a DIR that is itself such a folder
works too), the profiles beside them, MTEB prediction files anywhere under DIR (``*_predictions.json``, written
by ``--prediction-folder``; ``rwkv-mteb protocol`` and ``sweep`` always write them) and sweep diagnostics.
Gold scores come from the task's own data loader (the same files the run read). Nothing is re-encoded.

Writes, under ``--out``: ``leaderboard.json`` (validated against ``leaderboard.schema.json``, written beside
it), ``results/`` (the source result files in MTEB's layout, so ``mteb.ResultCache(out)`` reads them),
``README.md`` (the table) and the plots. Output is deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mteb.results import TaskResult

from rwkv_mteb import stats
from rwkv_mteb.diagnostics import LAYER_METRICS
from rwkv_mteb.errors import CorruptFileError, PublishError
from rwkv_mteb.files import (
    COMMANDS_LOG,
    atomic_write_json,
    atomic_write_text,
    diagnostics_path,
    profile_path,
    read_json,
    read_jsonl,
)
from rwkv_mteb.records import Board, Diagnostics, ProfileFile, schema_text
from rwkv_mteb.rwkv.prompts import Prompt

logger = logging.getLogger(__name__)
SCHEMA_VERSION = 1
ALPHA = 0.05


@dataclass
class Run:
    """One model's result for one task (all its splits), with what was saved beside it."""

    model: str
    revision: str
    task: str
    result_path: Path
    result: TaskResult
    meta: dict[str, Any]
    profile: dict[str, dict[str, Any]] = field(default_factory=dict)  # split -> record
    commands: dict[str, str] = field(default_factory=dict)  # split -> the command that produced it


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


def _results_root(folder: Path) -> Path:
    return folder / "results" if (folder / "results").is_dir() else folder


def validated(record: type, data: Any, path: Path, what: str, fix: str) -> Any:  # type: ignore[type-arg]
    """``data`` as a typed record; a file of the wrong shape is named, like a file that is not JSON at all."""
    from pydantic import ValidationError

    try:
        return record.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CorruptFileError(f"{what} {path} is corrupt ({where}: {first['msg']}); {fix}") from None


def collect_runs(folders: list[Path], warnings: list[str]) -> list[Run]:
    """Every MTEB result file under the folders. A folder that does not exist, or results that hold no run at
    all, stop the build (nothing is published); a corrupt result file is named in a warning and skipped; a
    corrupt side file (model meta, profile) stops the build with its name and the fix."""
    runs = []
    for folder in folders:
        if not folder.is_dir():
            raise PublishError(
                f"results folder {folder} does not exist; pass the --output-folder of a run (nothing was written)"
            )
        for path in sorted(_results_root(folder).glob("*/*/*.json")):
            if path.name == "model_meta.json":
                continue
            try:
                result = TaskResult.from_disk(path)  # mteb's own reader (it also upgrades older layouts)
                task = result.task_name
            except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else ""
                warnings.append(f"corrupt result file {path} ({type(exc).__name__}: {first}); skipped")
                continue
            meta_path = path.parent / "model_meta.json"
            rerun = "rerun the command that wrote it, or delete the folder"
            meta = read_json(meta_path, "model meta", rerun) if meta_path.is_file() else {}
            name = meta.get("name") or path.parent.parent.name.replace("__", "/")
            revision = meta.get("revision") or path.parent.name
            run = Run(name, revision, task, path, result, meta)
            profile_file = profile_path(path)
            if profile_file.is_file():
                fix = f"delete it (cost columns become null) or {rerun}"
                records = validated(ProfileFile, read_json(profile_file, "profile", fix), profile_file, "profile", fix)
                run.profile = {r.split: r.model_dump() for r in records.records}
            else:
                warnings.append(f"{name} on {task}: no profile beside {path}; cost columns are null")
            commands = path.parent / COMMANDS_LOG
            if commands.is_file():
                for record in read_jsonl(commands, "commands log", f"fix or delete the line, or {rerun}"):
                    if record.get("task") == task:
                        run.commands[record.get("split")] = record.get("command")
            runs.append(run)
    if not runs:
        raise PublishError(
            f"no MTEB result files under {', '.join(map(str, folders))} (expected <folder>/results/<model>/"
            "<revision>/<task>.json); nothing was written"
        )
    return runs


def collect_predictions(folders: list[Path]) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """(model, task) -> split -> cosine scores, from MTEB prediction files."""
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*_predictions.json")):
            try:
                data = json.loads(path.read_text())
                model = data["mteb_model_meta"]["model_name"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            task = path.name.removesuffix("_predictions.json")
            for subset, splits in data.items():
                if subset == "mteb_model_meta" or not isinstance(splits, dict):
                    continue
                for split, preds in splits.items():
                    if isinstance(preds, dict) and "cosine_scores" in preds:
                        out.setdefault((model, task), {})[split] = np.asarray(preds["cosine_scores"], dtype=float)
    return out


def collect_diagnostics(folders: list[Path]) -> list[dict[str, Any]]:
    found = []
    for folder in folders:
        for path in sorted(diagnostics_path(folder, "*", "*", "*", "*").parent.glob("*.json")):
            fix = "delete it or rerun the sweep that wrote it"
            data = read_json(path, "sweep diagnostics", fix)
            found.append(validated(Diagnostics, data, path, "sweep diagnostics", fix).model_dump())
    return sorted(found, key=lambda d: (d["model"], d["pooling"], d["prompt"], d["task"]))


def gold_scores(task: str, warnings: list[str]) -> dict[str, np.ndarray] | None:
    import mteb

    try:
        task_obj = mteb.get_task(task)
        task_obj.load_data()
        data = task_obj.dataset
        data = data.get("default", data) if isinstance(data, dict) else data
        return {split: np.asarray(data[split]["score"], dtype=float) for split in data}
    except Exception as exc:
        warnings.append(
            f"task {task}: gold scores unavailable ({type(exc).__name__}: {exc}); interval and "
            "comparison columns are null"
        )
        return None


def describe_model(name: str, saved_meta: dict[str, Any]) -> dict[str, Any]:
    """family, base model, layer, pooling and parameters, from the model's declaration (``loader_kwargs`` of
    the saved ``model_meta.json``, else of the registered meta): no name parsing."""
    import mteb

    try:
        registered = mteb.get_model_meta(name)
    except Exception:
        registered = None
    kwargs = saved_meta.get("loader_kwargs") or (registered.loader_kwargs if registered is not None else {}) or {}
    builder = kwargs.get("builder")
    base = kwargs.get("base") or name
    if builder == "layerwise":
        family = kwargs.get("family")
        if family == "transformers":
            family = "rwkv4" if "rwkv-4" in base else base.split("/")[-1]
    else:
        family = {"glove": "glove", "simcse": "simcse", "sbert": "sbert"}.get(builder or "", "other")
        if family == "other" and name.startswith("sentence-transformers/"):
            family = "sbert"
    layers = kwargs.get("layers") or []
    prompt = Prompt.of(kwargs.get("prompt")).name if builder == "layerwise" else None
    n_parameters = saved_meta.get("n_parameters", registered.n_parameters if registered is not None else None)
    return {
        "family": family,
        "base_model": base,
        "layer": layers[0] if builder == "layerwise" and len(layers) == 1 else None,
        "pooling": kwargs.get("pooling") if builder == "layerwise" else None,
        "prompt": prompt,
        "parameters": n_parameters,
    }


COST_FIELDS = (
    "seconds_per_pair",
    "sentences_per_second",
    "tokens_per_second",
    "peak_rss_mb",
    "peak_gpu_allocated_mb",
    "model_load_seconds",
    "device",
    "dtype",
    "includes_warmup",
)


def build(folders: list[Path], command: list[str]) -> tuple[dict[str, Any], list[Run]]:
    warnings: list[str] = []
    runs = collect_runs(folders, warnings)
    predictions = collect_predictions(folders)
    golds: dict[str, dict[str, np.ndarray] | None] = {}
    entries = []
    for run in runs:
        preds = predictions.get((run.model, run.task), {})
        if run.task not in golds and preds:
            golds[run.task] = gold_scores(run.task, warnings)
        gold = golds.get(run.task)
        if not preds:
            warnings.append(f"{run.model} on {run.task}: no prediction file; intervals and comparisons are null")
        date = run.result.date
        for split, rows in sorted(run.result.scores.items()):
            row = rows[0] if rows else {}
            score, undefined = _finite(row.get("main_score")), None
            if score is None:
                constant = (run.profile.get(split) or {}).get("constant_embeddings")
                undefined = (
                    "every text got the same vector (constant embeddings): the similarity ranking is undefined"
                    if constant
                    else "MTEB recorded no finite main score"
                )
            entry: dict[str, Any] = {
                "model": run.model,
                "revision": run.revision,
                **describe_model(run.model, run.meta),
                "task": run.task,
                "split": split,
                "main_score": score,
                "undefined": undefined,
                "pearson": _finite(row.get("cosine_pearson")),
                "n_pairs": None,
                "ci95_bootstrap": None,
                "ci95_fisher": None,
                "binary": None,
                "cost": {k: run.profile[split].get(k) for k in COST_FIELDS} if split in run.profile else None,
                "provenance": {
                    "mteb_version": run.result.mteb_version,
                    "dataset_revision": run.result.dataset_revision,
                    "evaluated": date.astimezone(datetime.UTC).strftime("%Y-%m-%d") if date is not None else None,
                    "result_file": f"results/{run.result_path.parent.parent.name}/{run.result_path.parent.name}/"
                    f"{run.result_path.name}",
                    "command": run.commands.get(split),
                },
            }
            if run.profile and split not in run.profile:
                warnings.append(f"{run.model} on {run.task}/{split}: the profile lacks this split")
            pred = preds.get(split)
            if pred is not None and not np.isfinite(pred).all():
                pred = None  # e.g. cosines of zero vectors: no interval rather than a wrong one
            usable = score is not None and pred is not None and gold is not None
            if usable and split in gold and len(gold[split]) == len(pred):
                g = gold[split]
                entry["n_pairs"] = len(g)
                entry["ci95_bootstrap"] = list(stats.bootstrap_ci(pred, g, seed=0))
                fisher = stats.fisher_ci(float(stats.spearman(pred, g)), len(g))
                entry["ci95_fisher"] = list(fisher) if fisher else None
                if set(np.unique(g)) <= {0.0, 1.0}:
                    train = preds.get("train")
                    threshold = None
                    if train is not None and "train" in gold and len(gold["train"]) == len(train):
                        threshold = stats.best_threshold(train, gold["train"])
                    else:
                        warnings.append(
                            f"{run.model} on {run.task}: no train predictions, so no train-chosen "
                            "threshold; accuracy and F1 are null"
                        )
                    entry["binary"] = {**stats.binary_metrics(pred, g, threshold), "threshold_from": "train"}
            entries.append(entry)
    shared: dict[tuple[str, str], stats.PairedResamples] = {}

    def resamples(task: str, split: str) -> stats.PairedResamples:
        """One set of resampled pairs per task split (seeded by its name), shared by every test on it."""
        if (task, split) not in shared:
            shared[task, split] = stats.PairedResamples(golds[task][split], seed=sum(map(ord, f"{task}/{split}")))
        return shared[task, split]

    comparisons = compare(entries, predictions, resamples)
    diagnostics = collect_diagnostics(folders)
    board = {
        "schema_version": SCHEMA_VERSION,
        "generated_by": {"command": command, "rwkv_mteb_version": _version()},
        "statistics": {
            "bootstrap_resamples": stats.N_RESAMPLES,
            "confidence": stats.CONFIDENCE,
            "seed": 0,
            "alpha": ALPHA,
            "threshold_chosen_on": "train",
        },
        "entries": sorted(entries, key=lambda e: (e["task"], e["split"], -(e["main_score"] or -9), e["model"])),
        "comparisons": comparisons["pairs"],
        "layer_sweeps": layer_sweeps(entries, predictions, resamples, diagnostics),
        "diagnostics": diagnostics,
        "warnings": sorted(set(warnings)),
    }
    for message in board["warnings"]:
        logger.warning(message)
    return Board.model_validate(_round(board)).model_dump(mode="json"), runs


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def layer_sweeps(
    entries: list[dict[str, Any]],
    predictions: dict,  # type: ignore[type-arg]
    resamples: Any,
    diagnostics: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Per sweep (model, pooling, prompt) and task split: the best layer and the layers not distinguishable from
    it (paired bootstrap on the same pairs, where predictions exist), and the Spearman correlation across layers
    between each label-free metric and the score (the Layer by Layer paper's analysis), with Fisher intervals."""
    groups: dict[tuple[str, str, str, str | None, str | None], list[dict[str, Any]]] = {}
    for e in entries:
        if e["layer"] is not None:
            groups.setdefault((e["task"], e["split"], e["base_model"], e["pooling"], e["prompt"]), []).append(e)
    metrics_of = {
        (d["model"], d["pooling"], d["prompt"], d["task"]): {r["layer"]: r for r in d["layers"]} for d in diagnostics
    }
    out = []
    for (task, split, base, pooling, prompt), layers in sorted(groups.items(), key=lambda kv: str(kv[0])):
        defined = [e for e in layers if e["main_score"] is not None]
        top = max(defined, key=lambda e: (e["main_score"], -e["layer"])) if defined else None
        same = [top["layer"]] if top else []
        if top is not None and top["n_pairs"]:
            resampled = resamples(task, split)
            for e in defined:
                if e is top or not e["n_pairs"]:
                    continue
                a, b = predictions[(e["model"], task)][split], predictions[(top["model"], task)][split]
                if resampled.test(a, b)["p_value"] >= ALPHA:
                    same.append(e["layer"])
        correlations = {}
        rows = metrics_of.get((base, pooling, prompt or "none", task), {})
        for metric in LAYER_METRICS:
            points = [(rows[e["layer"]].get(metric), e["main_score"]) for e in defined if e["layer"] in rows]
            points = [(m, v) for m, v in points if m is not None]
            if len(points) < 4:
                continue
            xs, ys = np.array(points).T
            rho = _finite(float(stats.spearman(xs, ys))) if np.ptp(xs) > 0 and np.ptp(ys) > 0 else None
            interval = stats.fisher_ci(rho, len(points)) if rho is not None else None
            correlations[metric] = {
                "spearman": rho,
                "ci95_fisher": list(interval) if interval else None,
                "layers": len(points),
            }
        out.append(
            {
                "task": task,
                "split": split,
                "base_model": base,
                "pooling": pooling,
                "prompt": prompt,
                "best_layer": top["layer"] if top else None,
                "layers_not_distinguishable_from_best": sorted(same),
                "metric_correlations": correlations,
            }
        )
    return out


def compare(entries: list[dict[str, Any]], predictions: dict, resamples: Any) -> dict[str, list]:  # type: ignore[type-arg]
    """Each entry against the best of its task and split, on the same pairs."""
    pairs = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in entries:
        if e["n_pairs"] and e["main_score"] is not None:
            groups.setdefault((e["task"], e["split"]), []).append(e)
    for (task, split), group in sorted(groups.items()):
        best = max(group, key=lambda e: (e["main_score"], e["model"]))
        resampled = resamples(task, split)
        for e in sorted(group, key=lambda e: e["model"]):
            if e is best:
                continue
            test = resampled.test(predictions[(e["model"], task)][split], predictions[(best["model"], task)][split])
            pairs.append(
                {
                    "task": task,
                    "split": split,
                    "model": e["model"],
                    "best_model": best["model"],
                    **test,
                    "distinguishable": test["p_value"] < ALPHA,
                }
            )
    return {"pairs": pairs}


def _version() -> str:
    from rwkv_mteb import __version__

    return __version__


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging`` as one set: readers see the old board or the new one, never a mix."""
    if out.exists():
        retired = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.replace(retired)
        staging.replace(out)
        shutil.rmtree(retired)
    else:
        staging.replace(out)


def publish(folders: list[Path], out: Path, command: list[str]) -> dict[str, Any]:
    """Build the board in a staging folder beside ``out`` and swap it in only when every file is written: bad
    input (a missing or empty results folder, a corrupt side file) leaves the published board untouched."""
    board, runs = build(folders, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        _write_board(board, runs, staging)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return board


def _write_board(board: dict[str, Any], runs: list[Run], out: Path) -> None:
    target = out / "results"
    for run in runs:  # MTEB's own layout, so mteb.ResultCache(out) reads the board's sources
        dest = target / run.result_path.parent.parent.name / run.result_path.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.result_path, dest / run.result_path.name)
        for extra in ("model_meta.json", COMMANDS_LOG, f"profiles/{run.result_path.name}"):
            if (run.result_path.parent / extra).is_file():
                (dest / extra).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run.result_path.parent / extra, dest / extra)
    atomic_write_text(out / "leaderboard.schema.json", schema_text(Board))
    atomic_write_json(out / "leaderboard.json", board)
    from rwkv_mteb.leaderboard_page import write_page
    from rwkv_mteb.leaderboard_report import write_plots, write_readme

    write_readme(board, out / "README.md")
    write_plots(board, out)
    write_page(board, out / "index.html")

"""The board itself: one typed :class:`~rwkv_mteb.board.records.Entry` per model, task and split, with the main
score's bootstrap interval over pairs, Fisher interval (Spearman), threshold metrics (binary STS labels, threshold
chosen on train), the cost of producing its vectors and its provenance; every entry compared with the best of its
task split on the same pairs (paired bootstrap, p-values Holm-adjusted over the split's comparisons); and every
layer sweep's best layer, the layers not distinguishable from it (Holm over the sweep's layers) and the
correlation of each label-free metric with the score across layers. Output is deterministic.
"""

from __future__ import annotations

import datetime
import logging
import math
from functools import lru_cache
from typing import Any

import mteb
import numpy as np

from rwkv_mteb import __version__
from rwkv_mteb.board.attention import collect_attention_heads
from rwkv_mteb.board.collect import (
    Gold,
    Run,
    collect_analyses,
    collect_diagnostics,
    collect_predictions,
    collect_runs,
    collect_scaling,
    describe_model,
    gold_labels,
    resampled_prediction,
)
from rwkv_mteb.board.effects import intervention_effects, label_free_choices, regret_table
from rwkv_mteb.board.pairs import pair_data
from rwkv_mteb.board.records import (
    BOARD_SCHEMA_VERSION,
    BinaryMetrics,
    Board,
    Cost,
    Diagnostics,
    Entry,
    Truncation,
)
from rwkv_mteb.board.retrieval_stats import add_retrieval_intervals, collect_rankings
from rwkv_mteb.metrics import stats
from rwkv_mteb.metrics.layer_metrics import LAYER_METRICS
from rwkv_mteb.provenance.records import SWEEP_PASS, THIS_EVALUATION, VECTOR_CACHE, ProfileRecord
from rwkv_mteb.registry import register

logger = logging.getLogger(__name__)
Predictions = dict[tuple[str, str], dict[str, dict[str, np.ndarray]]]


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


def truncation_of(record: ProfileRecord | None) -> Truncation | None:
    """What the encoder cut on this split; None when nothing was cut or the profile cannot tell."""
    if record is None or not record.truncated_inputs:
        return None
    return Truncation(
        inputs=record.truncated_inputs,
        tokens=record.truncated_tokens or 0,
        max_input_tokens=record.max_input_tokens,
        longest_input_tokens=record.longest_input_tokens,
    )


def cost_of(record: ProfileRecord | None) -> Cost | None:
    """What producing the split's vectors cost: this evaluation's own encode rates, the sweep pass's (shared by
    ``shared_by`` variants), or nothing for vectors read back from an earlier run's cache. Profiles written before
    records said where vectors came from count any cache hit as read back."""
    if record is None:
        return None
    origins = set(record.vectors_from or {})
    if not origins:
        origins = {VECTOR_CACHE} if record.vector_cache_hits else {THIS_EVALUATION}
    sweep_pass = record.sweep_pass if SWEEP_PASS in origins else None
    if origins == {THIS_EVALUATION}:
        vectors_from = THIS_EVALUATION
    elif sweep_pass is not None and origins <= {SWEEP_PASS, VECTOR_CACHE}:
        vectors_from = SWEEP_PASS
    else:
        vectors_from = VECTOR_CACHE if origins == {VECTOR_CACHE} else "mixed"
    fields = {"model_load_seconds": record.model_load_seconds, "device": record.device, "dtype": record.dtype}
    if vectors_from == THIS_EVALUATION:
        fields |= {
            "seconds_per_pair": record.seconds_per_pair,
            "sentences_per_second": record.sentences_per_second,
            "tokens_per_second": record.tokens_per_second,
            "peak_rss_mb": record.peak_rss_mb,
            "peak_gpu_allocated_mb": record.peak_gpu_allocated_mb,
            "includes_warmup": record.includes_warmup,
        }
    elif vectors_from == SWEEP_PASS and sweep_pass.sentences:
        fields |= {
            "shared_by": sweep_pass.shared_by,
            "seconds_per_pair": 2 * sweep_pass.seconds / sweep_pass.sentences if record.pair_task else None,
            "sentences_per_second": sweep_pass.sentences_per_second,
            "tokens_per_second": sweep_pass.tokens_per_second,
            "peak_rss_mb": sweep_pass.peak_rss_mb,
            "peak_gpu_allocated_mb": sweep_pass.peak_gpu_allocated_mb,
        }
    return Cost(vectors_from=vectors_from, **fields)


def _binary(
    pred: np.ndarray, gold: np.ndarray, train: tuple[np.ndarray, np.ndarray] | None, warn: Any
) -> BinaryMetrics:
    threshold = stats.best_threshold(*train) if train is not None else None
    if train is None:
        warn("no train predictions, so no train-chosen threshold; accuracy and F1 are null")
    return BinaryMetrics(**stats.binary_metrics(pred, gold, threshold), threshold_from="train")


def entries_of(
    run: Run, preds: dict[str, dict[str, np.ndarray]], gold: Gold | None, warnings: list[str]
) -> list[Entry]:
    """One entry per split of a run."""
    date = run.result.date
    described = describe_model(run.model, run.meta)
    out = []
    for split, rows in sorted(run.result.scores.items()):
        row = rows[0] if rows else {}
        score, undefined = _finite(row.get("main_score")), None
        if score is None:
            constant = (run.profile.get(split) or ProfileRecord.model_construct()).constant_embeddings
            undefined = (
                "every text got the same vector (constant embeddings): the similarity ranking is undefined"
                if constant
                else "MTEB recorded no finite main score"
            )
        if run.profile and split not in run.profile:
            warnings.append(f"{run.model} on {run.task}/{split}: the profile lacks this split")
        entry = Entry(
            model=run.model,
            revision=run.revision,
            experiment=run.experiment,
            **described,
            task=run.task,
            split=split,
            main_score_name=_main_score_name(run.task),
            main_score=score,
            undefined=undefined,
            pearson=_finite(row.get("cosine_pearson")),
            n_pairs=None,
            ci95_bootstrap=None,
            ci95_fisher=None,
            binary=None,
            cost=cost_of(run.profile.get(split)),
            truncation=truncation_of(run.profile.get(split)),
            by_length=(run.profile.get(split) or ProfileRecord.model_construct()).by_length,
            provenance={
                "mteb_version": run.result.mteb_version,
                "dataset_revision": run.result.dataset_revision,
                "evaluated": date.astimezone(datetime.UTC).strftime("%Y-%m-%d") if date is not None else None,
                "result_file": f"results/{run.relative_path}",
                "command": run.commands.get(split),
            },
        )
        if gold is not None and score is not None:
            _add_statistics(entry, run, preds, gold, warnings)
        out.append(entry)
    return out


@lru_cache
def _main_score_name(task: str) -> str | None:
    try:
        return mteb.get_task(task).metadata.main_score
    except Exception:  # a task no longer registered: its results still publish
        return None


def _add_statistics(
    entry: Entry, run: Run, preds: dict[str, dict[str, np.ndarray]], gold: Gold, warnings: list[str]
) -> None:
    """Interval, Fisher interval and threshold metrics of an entry whose pairs and gold are known."""
    pred = resampled_prediction(gold.kind, preds.get(entry.split))
    labels = gold.splits.get(entry.split)
    if pred is None or labels is None or pred.shape[-1] != len(labels):
        return
    entry.n_pairs = len(labels)
    entry.ci95_bootstrap = stats.bootstrap_ci(pred, labels, seed=0, kind=gold.kind)
    if gold.kind == "spearman":
        fisher = stats.fisher_ci(float(stats.spearman(pred, labels)), len(labels))
        entry.ci95_fisher = fisher
        if set(np.unique(labels)) <= {0.0, 1.0}:
            train = resampled_prediction("spearman", preds.get("train"))
            gold_train = gold.splits.get("train")
            usable = train is not None and gold_train is not None and len(gold_train) == len(train)

            def warn(message: str) -> None:
                warnings.append(f"{run.model} on {run.task}: {message}")

            entry.binary = _binary(pred, labels, (train, gold_train) if usable else None, warn)


class Resamples:
    """One set of resampled pairs per task split (seeded by its name), shared by every test on it."""

    def __init__(self, golds: dict[str, Gold | None]) -> None:
        self.golds, self._shared = golds, {}

    def __call__(self, task: str, split: str) -> stats.PairedResamples:
        if (task, split) not in self._shared:
            gold = self.golds[task]
            seed = sum(map(ord, f"{task}/{split}"))
            self._shared[task, split] = stats.PairedResamples(gold.splits[split], seed=seed, kind=gold.kind)
        return self._shared[task, split]

    def prediction(self, preds: Predictions, entry: Entry) -> np.ndarray:
        return resampled_prediction(self.golds[entry.task].kind, preds[(entry.model, entry.task)][entry.split])


def compare(entries: list[Entry], preds: Predictions, resamples: Resamples) -> list[dict[str, Any]]:
    """Each entry against the best of its task and split on the same pairs; p-values Holm-adjusted over the
    split's comparisons, and an entry distinguishable from the best only at adjusted p < 0.05."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.n_pairs and e.main_score is not None:
            groups.setdefault((e.task, e.split), []).append(e)
    out = []
    for (task, split), group in sorted(groups.items()):
        best = max(group, key=lambda e: (e.main_score, e.model))
        resampled = resamples(task, split)
        others = sorted((e for e in group if e is not best), key=lambda e: e.model)
        tests = [resampled.test(resamples.prediction(preds, e), resamples.prediction(preds, best)) for e in others]
        adjusted = stats.holm([t["p_value"] for t in tests])
        for e, test, p_holm in zip(others, tests, adjusted, strict=True):
            out.append(
                {
                    "task": task,
                    "split": split,
                    "model": e.model,
                    "best_model": best.model,
                    **test,
                    "p_value_holm": p_holm,
                    "distinguishable": p_holm < stats.SIGNIFICANCE,
                }
            )
    return out


def _metric_correlations(defined: list[Entry], rows: dict[int, Any]) -> dict[str, Any]:
    correlations = {}
    for metric in LAYER_METRICS:
        points = [(getattr(rows[e.layer], metric), e.main_score) for e in defined if e.layer in rows]
        points = [(m, v) for m, v in points if m is not None]
        if len(points) < 4:
            continue
        xs, ys = np.array(points).T
        rho = _finite(float(stats.spearman(xs, ys))) if np.ptp(xs) > 0 and np.ptp(ys) > 0 else None
        interval = stats.fisher_ci(rho, len(points)) if rho is not None else None
        correlations[metric] = {"spearman": rho, "ci95_fisher": interval, "layers": len(points)}
    return correlations


def layer_sweeps(
    entries: list[Entry], preds: Predictions, resamples: Resamples, diagnostics: list[Diagnostics]
) -> list[dict[str, Any]]:
    """Per sweep (model, pooling, prompt, intervention) and task split: the best layer and the layers not
    distinguishable from it (paired bootstrap on the same pairs, Holm-adjusted over the sweep's other layers), the
    Spearman correlation across layers between each label-free metric and the score, with Fisher intervals, and
    the layer each metric would pick without labels, with its regret."""
    groups: dict[tuple[str, str, str, str | None, str | None, str | None], list[Entry]] = {}
    for e in entries:
        if e.layer is not None:
            groups.setdefault((e.task, e.split, e.base_model, e.pooling, e.prompt, e.ablate), []).append(e)
    metrics_of = {(d.model, d.pooling, d.prompt, d.ablate, d.task): {r.layer: r for r in d.layers} for d in diagnostics}
    out = []
    for (task, split, base, pooling, prompt, ablate), layers in sorted(groups.items(), key=lambda kv: str(kv[0])):
        defined = [e for e in layers if e.main_score is not None]
        top = max(defined, key=lambda e: (e.main_score, -e.layer)) if defined else None
        same = [top.layer] if top else []
        if top is not None and top.n_pairs:
            resampled = resamples(task, split)
            others = [e for e in defined if e is not top and e.n_pairs]
            best = resamples.prediction(preds, top)
            tests = [resampled.test(resamples.prediction(preds, e), best)["p_value"] for e in others]
            same += [e.layer for e, p in zip(others, stats.holm(tests), strict=True) if p >= stats.SIGNIFICANCE]
        rows = metrics_of.get((base, pooling, prompt or "none", ablate or "none", task), {})
        out.append(
            {
                "task": task,
                "split": split,
                "base_model": base,
                "pooling": pooling,
                "prompt": prompt,
                "ablate": ablate,
                "best_layer": top.layer if top else None,
                "layers_not_distinguishable_from_best": sorted(same),
                "metric_correlations": _metric_correlations(defined, rows),
                "label_free_choices": label_free_choices(layers, rows, top.main_score if top else None),
            }
        )
    return out


def build_board(folders: list[Any], command: list[str]) -> tuple[Board, list[Run], dict[str, Any]]:
    """The board, the runs it was built from, and the pair explorer's data (:mod:`rwkv_mteb.board.pairs`)."""
    register()  # the tasks' gold comes from their registered loaders
    warnings: list[str] = []
    runs = collect_runs(folders, warnings)
    found = collect_predictions(folders)
    rankings = collect_rankings(folders)
    preds: Predictions = {(run.model, run.task): found.get((run.name, run.experiment, run.task), {}) for run in runs}
    golds: dict[str, Gold | None] = {}
    entries: list[Entry] = []
    for run in runs:
        run_preds = preds[(run.model, run.task)]
        if run.task not in golds and run_preds:
            golds[run.task] = gold_labels(run.task, warnings)
        if not run_preds and (run.name, run.experiment, run.task) not in rankings:
            warnings.append(f"{run.model} on {run.task}: no prediction file; intervals and comparisons are null")
        entries += entries_of(run, run_preds, golds.get(run.task), warnings)
    add_retrieval_intervals(entries, runs, rankings, warnings)
    resamples = Resamples(golds)
    diagnostics = collect_diagnostics(folders)
    sweeps = layer_sweeps(entries, preds, resamples, diagnostics)

    def paired(entry: Entry, intact: Entry) -> dict[str, float]:
        test = resamples(entry.task, entry.split)
        return test.test(resamples.prediction(preds, entry), resamples.prediction(preds, intact))

    board = {
        "schema_version": BOARD_SCHEMA_VERSION,
        "generated_by": {"command": command, "rwkv_mteb_version": __version__},
        "statistics": {
            "bootstrap_resamples": stats.N_RESAMPLES,
            "confidence": stats.CONFIDENCE,
            "seed": 0,
            "alpha": stats.SIGNIFICANCE,
            "paired_test": "bootstrap standard error: p = 2 (1 - Phi(|difference| / sd of resampled differences))",
            "multiple_comparisons": "holm: each task split's comparisons with its best entry; each layer sweep's "
            "layers with its best layer",
            "threshold_chosen_on": "train",
        },
        "entries": [
            e.model_dump() for e in sorted(entries, key=lambda e: (e.task, e.split, -(e.main_score or -9), e.model))
        ],
        "comparisons": compare(entries, preds, resamples),
        "layer_sweeps": sweeps,
        "layer_choice_regret": regret_table(sweeps),
        "interventions": intervention_effects(entries, paired),
        "diagnostics": [d.model_dump() for d in diagnostics],
        "analyses": [a.model_dump() for a in collect_analyses(folders)],
        "scaling": [c.model_dump() for c in collect_scaling(folders)],
        "attention_heads": [h.model_dump() for h in collect_attention_heads(runs, warnings)],
        "warnings": sorted(set(warnings)),
    }
    for message in board["warnings"]:
        logger.warning(message)
    validated = Board.model_validate(_round(board))
    return validated, runs, pair_data(validated, preds, golds)

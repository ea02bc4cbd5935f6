"""The human side of the leaderboard: the README tables and the plots, generated from the typed board."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from rwkv_mteb.board.analysis_report import analysis_tables, write_analysis_plot
from rwkv_mteb.board.long_inputs import long_input_tables, long_tasks, write_long_input_plot
from rwkv_mteb.board.records import Board, Cost, Entry
from rwkv_mteb.board.summary import layers_swept, summary_rows
from rwkv_mteb.layerwise.variants import method_label
from rwkv_mteb.metrics.layer_metrics import LAYER_METRICS

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HEADER = (
    "The main score is MTEB's for the task (Spearman between the cosine similarity of the two embeddings and the gold "
    "label for STS tasks, max average precision for pair classification); 95% intervals: percentile bootstrap over "
    "pairs ({resamples} resamples, seeded). Δ: difference to the best entry of the same task and split on the same "
    "pairs, with the paired-bootstrap p-value (difference over its bootstrap standard error, normal tail) "
    "**Holm-adjusted** over all comparisons of that task split (≈: not "
    'distinguishable from the best at adjusted p ≥ {alpha}); the layer sweeps\' "not distinguishable" layers are '
    "Holm-adjusted over the sweep's layers. Accuracy and F1 use a cosine threshold chosen on the *train* split (never "
    "between tied scores). Cost columns are what producing the entry's vectors cost (profiling hook; CPU, 2 threads "
    "unless stated): for a sweep's layer variants, the rates and peak memory of the one encode pass shared by all of "
    "them (*pass ÷ N*: N variants), never the time of reading vectors back; vectors read from an earlier run's cache "
    "have no rate (*cache*)."
)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _interval(pair: Any) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]" if pair else "–"


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def _vectors(cost: Cost | None) -> str:
    if cost is None or cost.vectors_from is None:
        return "–"
    return {"this evaluation": "this run", "sweep pass": f"pass ÷ {cost.shared_by}", "vector cache": "cache"}.get(
        cost.vectors_from, cost.vectors_from
    )


ALL_ENTRIES = "all-entries.md"  # every entry (each layer its own row), the sweeps and the metric correlations


def _delta(test: Any, e: Entry) -> str:
    if test is None:
        return "best" if e.n_pairs else "–"
    return f"{test.difference:+.4f} ({test.p_value_holm:.3f}){'' if test.distinguishable else ' ≈'}"


def _ranges(layers: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3–5, 9"``."""
    out: list[str] = []
    for k in sorted(layers):
        if out and k == int(out[-1].rpartition("–")[2]) + 1:
            out[-1] = f"{out[-1].partition('–')[0]}–{k}"
        else:
            out.append(str(k))
    return ", ".join(out)


def _summary_table(board: Board, task: str, split: str) -> list[str]:
    tests = {(c.task, c.split, c.model): c for c in board.comparisons}
    rows = summary_rows(board, task, split)
    score_name = next((e.main_score_name for e, _ in rows if e.main_score_name), "main score")
    header = ["model", "method", "best layer", score_name, "95% CI", "Δ vs best (p, Holm)", "layers ≈ best", "s / pair"]
    lines = [f"## {task} / {split}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e, sweep in rows:
        score = _fmt(e.main_score) if e.main_score is not None else "undefined"
        seconds = _rate((e.cost or Cost()).seconds_per_pair)
        if e.cost is not None and e.cost.vectors_from not in (None, "this evaluation"):
            seconds += f" ({_vectors(e.cost)})"  # a sweep's shared pass, or read back: said, as in every table
        if sweep is None:
            kind = f"trained on {e.trained_on}" if e.trained_on else e.family  # never a zero-shot row unmarked
            row = [f"`{e.model}`", kind, "–", score, _interval(e.ci95_bootstrap)]
            row += [_delta(tests.get((task, split, e.model)), e), "–", seconds]
        else:
            method = method_label(e.pooling, e.prompt, e.ablate)
            row = [f"`{e.base_model}`", method, f"{e.layer} (of {layers_swept(board, sweep)})", score]
            row += [_interval(e.ci95_bootstrap), _delta(tests.get((task, split, e.model)), e)]
            row += [_ranges(sweep.layers_not_distinguishable_from_best), seconds]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _split_table(board: Board, task: str, split: str, entries: list[Entry]) -> list[str]:
    tests = {(c.task, c.split, c.model): c for c in board.comparisons}
    binary = any(e.binary for e in entries)
    score_name = next((e.main_score_name for e in entries if e.main_score_name), "main score")
    header = ["model", score_name, "95% CI", "Pearson"]
    header += ["ROC-AUC", "acc (train thr.)", "F1 (train thr.)"] if binary else []
    header += ["Δ vs best (p, Holm)", "vectors", "s / pair", "sentences / s", "peak RSS MB"]
    lines = [f"## {task} / {split}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in entries:
        delta = _delta(tests.get((task, split, e.model)), e)
        cost = e.cost or Cost()
        score = _fmt(e.main_score) if e.main_score is not None else f"undefined: {e.undefined}"
        row = [f"`{e.model}`", score, _interval(e.ci95_bootstrap), _fmt(e.pearson)]
        if binary:
            b = e.binary
            row += [_fmt(b.roc_auc), _fmt(b.accuracy), _fmt(b.f1)] if b else ["–"] * 3
        row += [
            delta,
            _vectors(e.cost),
            _rate(cost.seconds_per_pair),
            _fmt(cost.sentences_per_second, 0),
            _fmt(cost.peak_rss_mb, 0),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _sweep_tables(board: Board) -> list[str]:
    lines = [
        "## Layer sweeps",
        "",
        "| model | pooling | prompt | task / split | best layer | not distinguishable (Holm) |",
        "|---|---|---|---|---|---|",
    ]
    for s in board.layer_sweeps:
        method = s.prompt if s.ablate in (None, "none") else f"{s.prompt}, ablate={s.ablate}"
        lines.append(
            f"| `{s.base_model}` | {s.pooling} | {method} | {s.task} / {s.split} | {s.best_layer} | "
            f"{', '.join(map(str, s.layers_not_distinguishable_from_best))} |"
        )
    lines.append("")
    metrics = [m for m in LAYER_METRICS if any(m in s.metric_correlations for s in board.layer_sweeps)]
    if metrics:
        lines += [
            "## Label-free layer metrics vs score",
            "",
            "Spearman correlation across layers between each metric (computed without labels on a seeded sample of "
            "the swept texts; definitions and sources: `rwkv_mteb/metrics/layer_metrics.py` and the project README) "
            "and the layer's score, with its 95% Fisher interval (n = layers).",
            "",
            "| model | pooling | prompt | task / split | " + " | ".join(metrics) + " |",
            "|---|---|---|---|" + "---|" * len(metrics),
        ]
        for s in board.layer_sweeps:
            cells = []
            for m in metrics:
                c = s.metric_correlations.get(m)
                cells.append(f"{_fmt(c.spearman, 2)} {_interval(c.ci95_fisher)}" if c else "–")
            lines.append(
                f"| `{s.base_model}` | {s.pooling} | {s.prompt} | {s.task} / {s.split} | " + " | ".join(cells) + " |"
            )
        lines.append("")
    return lines


def _regret_table(board: Board) -> list[str]:
    lines = [
        "## Choosing a layer without labels",
        "",
        "Each label-free metric picks, in every sweep, the layer where it is highest or lowest (its direction, "
        "declared in `rwkv_mteb/metrics/layer_metrics.py` before any score is seen); regret is the best layer's "
        "score (chosen with the labels) minus the picked layer's, on the same split. Lower is better; 0 is the "
        "best layer itself.",
        "",
        "| metric | picks | sweeps | mean regret | median | worst | picked the best | picked a layer ≈ best | "
        "picked an undefined layer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(board.layer_choice_regret, key=lambda r: r.mean_regret):
        lines.append(
            f"| {r.metric} | {r.direction} | {r.sweeps} | {r.mean_regret:.4f} | {r.median_regret:.4f} | "
            f"{r.max_regret:.4f} | {r.picked_best} | {r.picked_tied} | {r.picked_undefined} |"
        )
    return [*lines, ""]


def _intervention_summary(board: Board) -> list[str]:
    """Per model, intervention, method and task split: how many layers it moved (interval excluding 0) and its
    largest effect; every layer's row is in the full file."""
    groups: dict[tuple[str, str, str, str, str], list[Any]] = {}
    for r in board.interventions:
        groups.setdefault((r.base_model, r.ablate, method_label(r.pooling, r.prompt), r.task, r.split), []).append(r)
    lines = [
        "## Interventions",
        "",
        "Each intervened variant (`rwkv_mteb/interventions`: a branch zeroed, a block skipped, the decay changed) "
        "against the intact model's same layer and method on the same pairs (paired bootstrap, 95% interval). Per "
        f"intervention: the layers whose 95% interval excludes 0 (unadjusted: of many layers some do by chance), "
        f"and the largest effect; every layer in [{ALL_ENTRIES}]"
        f"({ALL_ENTRIES}#interventions).",
        "",
        "| model | intervention | method | task / split | layers with CI excluding 0 | largest Δ [95% CI] (layer) |",
        "|---|---|---|---|---|---|",
    ]
    for (base, ablate, method, task, split), rows in sorted(groups.items()):
        moved = [r for r in rows if r.ci_low > 0 or r.ci_high < 0]
        top = max(rows, key=lambda r: (abs(r.difference), -r.layer))
        lines.append(
            f"| `{base}` | {ablate} | {method} | {task} / {split} | {len(moved)} of {len(rows)} | "
            f"{top.difference:+.4f} [{top.ci_low:+.3f}, {top.ci_high:+.3f}] ({top.layer}) |"
        )
    return [*lines, ""]


def _intervention_table(board: Board) -> list[str]:
    lines = [
        "## Interventions",
        "",
        "Each intervened variant (`rwkv_mteb/interventions`: a branch zeroed, a block skipped, the decay changed) "
        "against the intact model's same layer, pooling and prompt on the same pairs: the paired bootstrap "
        "difference with its 95% interval and unadjusted p-value.",
        "",
        "| model | intervention | layer | pooling | prompt | task / split | score | intact | Δ [95% CI] | p |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in board.interventions:
        lines.append(
            f"| `{r.base_model}` | {r.ablate} | {r.layer} | {r.pooling} | {r.prompt} | {r.task} / {r.split} | "
            f"{r.score:.4f} | {r.intact_score:.4f} | {r.difference:+.4f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] | "
            f"{r.p_value:.3g} |"
        )
    return [*lines, ""]


def write_readme(board: Board, path: Path) -> None:
    """``README.md``: per task split the summary table (each model and method at its best layer, then the
    sentence encoders); beside it ``all-entries.md`` with every layer of every sweep."""
    generated = (
        "Generated by `" + " ".join(board.generated_by.command) + "` from the result files under "
        "`results/` (MTEB's layout). Do not edit by hand. Schema: `leaderboard.schema.json`."
    )
    header = HEADER.format(resamples=board.statistics["bootstrap_resamples"], alpha=board.statistics["alpha"])
    lines = ["# rwkv-mteb leaderboard", "", generated, "", header, ""]
    lines += [
        "Each table below lists every layer-wise model and method **at its best layer on that split** (chosen "
        "with that split's labels: an upper bound on what a layer chosen without them scores, see *Choosing a layer "
        "without labels*), with the layers not distinguishable from it, then the sentence encoders. Every layer of "
        f"every sweep, with Pearson, threshold metrics and memory: [{ALL_ENTRIES}]({ALL_ENTRIES}).",
        "",
    ]
    full = ["# rwkv-mteb leaderboard: every entry", "", generated, "", header, ""]
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in board.entries:
        groups.setdefault((e.task, e.split), []).append(e)
    long = set(long_tasks(board))
    for (task, split), entries in sorted(groups.items()):
        if task not in long:  # a task of document lengths gets one table across its lengths instead
            lines += _summary_table(board, task, split)
        full += _split_table(board, task, split, entries)
    lines += long_input_tables(board)
    if board.layer_sweeps:
        full += _sweep_tables(board)
    if board.layer_choice_regret:
        lines += _regret_table(board)
    if board.interventions:
        lines += _intervention_summary(board)
        full += _intervention_table(board)
    lines += analysis_tables(board)
    if board.attention_heads:
        lines += ["## Inside the trained attention heads", "", "| model | layer | trained on | content-word share "
                  "| under a plain mean |", "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| `{h.model}` | {h.layer} | {h.trained_on} | {h.content_share:.3f} | {h.mean_pooling_share:.3f} |"
                  for h in board.attention_heads] + [""]  # fmt: skip
    if board.warnings:
        lines += ["## Gaps", "", f"{len(board.warnings)} warnings: [{ALL_ENTRIES}]({ALL_ENTRIES}#gaps).", ""]
        full += ["## Gaps", ""] + [f"- {w}" for w in board.warnings] + [""]
    lines += [
        "The same board as an interactive page: `index.html` (open it in any browser; it loads `plotly.min.js` "
        "and, for its pair explorer, `pairs.js` beside it). Plots: `layers.png` (score by layer with its interval "
        "band; sentence encoders as reference lines), `cost_vs_score.png`"
        + (", `diagnostics.png`" if board.diagnostics else "")
        + (", `long_inputs.png`" if long else "")
        + (", `analysis.png`" if board.analyses else "")
        + ".",
        "",
    ]
    path.write_text("\n".join(lines))
    (path.parent / ALL_ENTRIES).write_text("\n".join(full))


def _layer_plot(ax: Any, task: str, split: str, entries: list[Entry]) -> None:
    lines: dict[tuple[str, str | None, str | None, str | None], list[Entry]] = {}
    for e in entries:
        if e.layer is not None:
            lines.setdefault((e.base_model, e.pooling, e.prompt, e.ablate), []).append(e)
    for (base, pooling, prompt, ablate), points in sorted(lines.items(), key=lambda kv: str(kv[0])):
        points.sort(key=lambda e: e.layer)
        xs = [e.layer for e in points]
        method = method_label(pooling, prompt, ablate)
        ys = [np.nan if e.main_score is None else e.main_score for e in points]
        (line,) = ax.plot(xs, ys, "o-", markersize=3, label=f"{base.split('/')[-1]} ({method})")
        ci = [e.ci95_bootstrap or (np.nan, np.nan) for e in points]
        ax.fill_between(xs, [c[0] for c in ci], [c[1] for c in ci], alpha=0.15, color=line.get_color())
    for i, e in enumerate(sorted((e for e in entries if e.layer is None), key=lambda e: e.model)):
        style = ("--", ":", "-.")[i % 3]
        ax.axhline(e.main_score, linestyle=style, color=f"C{(i + 5) % 10}", linewidth=1.5, label=e.model)
    name = next((e.main_score_name for e in entries if e.main_score_name), "main score")
    ax.set(title=f"{task} / {split}", xlabel="layer (hidden state)", ylabel=name)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _cost_plot(ax: Any, task: str, split: str, entries: list[Entry]) -> None:
    """Seconds per pair of producing the vectors; a sweep's variants share their pass's cost (one column of
    points per pass), the best layer of each labelled with the number of variants the pass served."""
    passes: dict[tuple[str, str | None, str | None, str | None], list[Entry]] = {}
    for e in entries:
        spp = (e.cost or Cost()).seconds_per_pair
        if not spp or e.main_score is None:
            continue
        if e.layer is not None:
            ax.scatter(spp, e.main_score, s=6, color="0.6")
            passes.setdefault((e.base_model, e.pooling, e.prompt, e.ablate), []).append(e)
            continue
        ax.scatter(spp, e.main_score)
        ax.annotate(e.model.split("/")[-1], (spp, e.main_score), fontsize=7)
    for (base, pooling, prompt, ablate), group in sorted(passes.items(), key=lambda kv: str(kv[0])):
        top = max(group, key=lambda e: e.main_score)
        method = method_label(pooling, prompt, ablate)
        label = f"{base.split('/')[-1]} ({method}) L{top.layer}: pass ÷ {top.cost.shared_by}"
        ax.annotate(label, (top.cost.seconds_per_pair, top.main_score), fontsize=6, color="0.3")
    ax.set(xscale="log", title=f"{task} / {split}", xlabel="seconds per pair, producing the vectors (log)")
    ax.set_ylabel(next((e.main_score_name for e in entries if e.main_score_name), "main score"))
    ax.grid(alpha=0.3)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_plots(board: Board, out: Path) -> None:
    plt.rcParams["svg.hashsalt"] = "rwkv-mteb"
    long = set(long_tasks(board))
    write_long_input_plot(board, out / "long_inputs.png", plt)
    splits = sorted({(e.task, e.split) for e in board.entries if e.task not in long})
    if not splits:
        return
    by_split = {key: [e for e in board.entries if (e.task, e.split) == key] for key in splits}
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4), squeeze=False)
    for ax, key in zip(axes[0], splits, strict=True):
        _layer_plot(ax, *key, by_split[key])
    _save(fig, out / "layers.png")
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4), squeeze=False)
    for ax, key in zip(axes[0], splits, strict=True):
        _cost_plot(ax, *key, by_split[key])
    _save(fig, out / "cost_vs_score.png")
    if board.diagnostics:
        metrics = [
            m for m in LAYER_METRICS if any(getattr(r, m) is not None for d in board.diagnostics for r in d.layers)
        ]
        cols = min(5, len(metrics))
        rows = -(-len(metrics) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.5 * rows), squeeze=False)
        for d in board.diagnostics:
            xs = [row.layer for row in d.layers]
            method = method_label(d.pooling, d.prompt, d.ablate)
            for ax, key in zip(axes.flat, metrics, strict=False):
                ys = [np.nan if getattr(row, key) is None else getattr(row, key) for row in d.layers]
                ax.plot(xs, ys, "o-", markersize=3, label=f"{d.model.split('/')[-1]} ({method})")
                ax.set(title=key, xlabel="layer")
        for ax in list(axes.flat)[len(metrics) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        _save(fig, out / "diagnostics.png")
    write_analysis_plot(board, out / "analysis.png", plt)

"""The board's view of long inputs: tasks whose splits are document lengths (``test_<tokens>``, LongEmbed's
convention and the generated suite's), as one table per task (score by length; a sweep at its best layer for
each length) and one plot (score against length; seconds per document against length where the profile
measured it). A score whose inputs the encoder cut to its maximum length is marked: it is the score of the
documents' beginnings."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from rwkv_mteb.board.records import Board, Entry
from rwkv_mteb.layerwise.variants import method_label

CUT = "✂"


def length_of(split: str) -> int | None:
    match = re.fullmatch(r"test_(\d+)", split)
    return int(match.group(1)) if match else None


def long_tasks(board: Board) -> list[str]:
    """Tasks with at least two length splits."""
    lengths: dict[str, set[int]] = {}
    for e in board.entries:
        if (n := length_of(e.split)) is not None:
            lengths.setdefault(e.task, set()).add(n)
    return sorted(t for t, ns in lengths.items() if len(ns) >= 2)


def _series(entries: list[Entry]) -> dict[str, dict[int, Entry]]:
    """Row label -> length -> entry: a sentence encoder as itself, a sweep (model, method) at its best layer."""
    out: dict[str, dict[int, Entry]] = {}
    for e in entries:
        n = length_of(e.split)
        if n is None or e.main_score is None:
            continue
        if e.layer is None:
            label = e.model
        else:
            label = f"{e.base_model} ({method_label(e.pooling, e.prompt, e.ablate)}), best layer"
        row = out.setdefault(label, {})
        if n not in row or e.main_score > (row[n].main_score or -np.inf):
            row[n] = e
    return out


def _cell(e: Entry | None) -> str:
    if e is None:
        return "–"
    layer = f" (L{e.layer})" if e.layer is not None else ""
    return f"{e.main_score:.3f}{layer}" + (f" {CUT}" if e.truncation else "")


def scaling_table(board: Board) -> list[str]:
    """Each `rwkv-mteb scaling` curve: µs per token and peak resident memory above the model, by length."""
    if not board.scaling:
        return []
    lengths = sorted({p.tokens for c in board.scaling for p in c.points})
    lines = [
        "### Cost by input length (`rwkv-mteb scaling`)",
        "",
        "One input of each length, every hidden state mean-pooled, each length in a fresh process: µs per token "
        f"read, and peak resident memory above the loaded model. {CUT}: the model read only its maximum positions.",
        "",
        "| model | device, dtype | " + " | ".join(map(str, lengths)) + " | spread (read whole) |",
        "|---|---|" + "---|" * len(lengths) + "---|",
    ]
    for curve in board.scaling:
        at = {p.tokens: p for p in curve.points}
        cells = [
            f"{1e6 * at[n].seconds_per_token:.0f} µs, +{at[n].peak_rss_mb:.0f} MB"
            + (f" {CUT}" if at[n].truncated else "")
            if n in at
            else "–"
            for n in lengths
        ]
        first = curve.points[0]
        spreads = (
            f"{100 * (curve.seconds_per_token_spread or 0):.0f}% time, {100 * (curve.peak_rss_spread or 0):.0f}% memory"
        )
        lines.append(f"| {curve.model} | {first.device}, {first.dtype} | " + " | ".join(cells) + f" | {spreads} |")
    return [*lines, ""]


def long_input_tables(board: Board) -> list[str]:
    tasks = long_tasks(board)
    if not tasks:
        return scaling_table(board)
    lines = [
        "## Long inputs",
        "",
        "Score by document length (tokens of RWKV's World tokenizer for the generated suite). A sweep is shown at "
        "its best layer for each length (chosen with that split's labels). "
        f"{CUT}: the encoder cut inputs to its maximum length (counts: `truncation` of the entry in "
        "`leaderboard.json`), so the score is that of the documents' beginnings. Plot: `long_inputs.png`.",
        "",
    ]
    for task in tasks:
        entries = [e for e in board.entries if e.task == task]
        lengths = sorted({n for e in entries if (n := length_of(e.split)) is not None})
        name = next((e.main_score_name for e in entries if e.main_score_name), "main score")
        lines += [f"### {task} ({name})", "", "| model | " + " | ".join(map(str, lengths)) + " |"]
        lines.append("|---|" + "---|" * len(lengths))
        for label, row in sorted(_series(entries).items()):
            lines.append(f"| {label} | " + " | ".join(_cell(row.get(n)) for n in lengths) + " |")
        lines.append("")
    return lines + scaling_table(board)


def _seconds_per_document(e: Entry) -> float | None:
    """The longest bucket's seconds per input: a corpus's documents, encoded apart from its short queries."""
    buckets = [b for b in e.by_length or [] if b.seconds_per_input is not None]
    return max(buckets, key=lambda b: b.up_to_tokens or 2**62).seconds_per_input if buckets else None


def _scaling_plot(board: Board, time_ax: Any, memory_ax: Any) -> None:
    for i, curve in enumerate(board.scaling):
        points = sorted(curve.points, key=lambda p: p.tokens)
        xs = [p.tokens for p in points]
        label = curve.model.split("/")[-1]
        time_ax.plot(xs, [1e6 * p.seconds_per_token for p in points], "o-", color=f"C{i}", label=label)
        memory_ax.plot(xs, [max(p.peak_rss_mb, 0.1) for p in points], "o-", color=f"C{i}", label=label)
    time_ax.set(xscale="log", yscale="log", xlabel="input tokens", ylabel="µs per token read")
    time_ax.set_title("rwkv-mteb scaling: time per token")
    memory_ax.set(xscale="log", yscale="log", xlabel="input tokens", ylabel="peak MB above the model")
    memory_ax.set_title("rwkv-mteb scaling: peak resident memory")
    for ax in (time_ax, memory_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)


def write_long_input_plot(board: Board, path: Any, plt: Any) -> bool:
    tasks = long_tasks(board)
    if not tasks:
        return False
    rows = 3 if board.scaling else 2
    cols = max(len(tasks), 2)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4 * rows), squeeze=False)
    if board.scaling:
        _scaling_plot(board, axes[2][0], axes[2][1])
    for ax in [*axes[0][len(tasks) :], *axes[1][len(tasks) :], *(axes[2][2:] if board.scaling else [])]:
        ax.axis("off")
    for col, task in enumerate(tasks):
        series = _series([e for e in board.entries if e.task == task])
        score_ax, cost_ax = axes[0][col], axes[1][col]
        for i, (label, row) in enumerate(sorted(series.items())):
            lengths = sorted(row)
            color = f"C{i % 10}"
            scores = [row[n].main_score for n in lengths]
            score_ax.plot(lengths, scores, "-", color=color, label=label.split("/")[-1])
            for n in lengths:  # a cut input is drawn hollow
                cut = row[n].truncation is not None
                score_ax.plot(n, row[n].main_score, "o", color=color, mfc="white" if cut else color)
            seconds = [(n, s) for n in lengths if (s := _seconds_per_document(row[n])) is not None]
            if seconds:
                cost_ax.plot(*zip(*seconds, strict=True), "o-", color=color, label=label.split("/")[-1])
        name = next((e.main_score_name for e in board.entries if e.task == task and e.main_score_name), "score")
        score_ax.set(xscale="log", title=f"{task} (hollow: inputs cut)", xlabel="document tokens", ylabel=name)
        cost_ax.set(xscale="log", yscale="log", title=f"{task}: seconds per document (profiles)")
        cost_ax.set(xlabel="document tokens", ylabel="seconds per document")
        for ax in (score_ax, cost_ax):
            ax.grid(alpha=0.3)
        score_ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return True

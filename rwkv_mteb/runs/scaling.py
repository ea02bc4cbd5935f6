"""`rwkv-mteb scaling`: what one long input costs a model, length by length, on its real weights.

Each length is measured in two fresh processes, one for its time and one for its memory (so one length's
allocations cannot hide in another's peak). Each loads the model the way the layer-wise encoder loads it and
encodes one input of exactly that many tokens (real text: the long-context suite's MRPC haystack where the data
folder is set, else a fixed built-in text, repeated) with every hidden state mean-pooled, on the encoder's own
path (RWKV: chunks with the state carried across them; transformers: one forward, cut at the model's maximum
positions, the cut reported). A warm-up of one chunk (RWKV's ``chunk_tokens``, else 1,024 tokens; at most the
length) runs first, so that no length pays the first chunk's allocations and kernel set-up alone (a 64-token
warm-up left the 512- and 8,192-token points of one curve 2x apart). Seconds are the fastest of the timed runs
(at least three, up to seven while they add up to under 10 s: with two, one curve's points strayed 33% on a
quiet 2-core machine, the next run's 9%); ``rounds`` measures every length again, in turn, in new processes, and
keeps each length's fastest round (its highest memory). Peak memory is the peak resident memory of one run above
the level after the warm-up, in a process whose allocator returns every freed block to the kernel
(:data:`MEMORY_ENV`; that costs time, hence the second process): on Linux exact, the kernel's high-water mark
reset before the run, elsewhere sampled every 20 ms; and CUDA's peak allocation on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from rwkv_mteb.errors import ModelUnavailableError, RwkvMtebError
from rwkv_mteb.provenance.records import ScalingCurve

BUILT_IN_TEXT = (
    "A recurrent model reads a document one token at a time and keeps a state of fixed size, so the cost of a "
    "token does not depend on how many came before it. An attention model compares each token with every "
    "earlier one, and its cost per token grows with the length of the input. "
)


def _text(tokenizer: Any, length: int) -> list[int]:
    from rwkv_mteb.config import data_dir

    text = BUILT_IN_TEXT
    if data_dir() is not None:
        from rwkv_mteb.tasks.generators.sources import filler_sentences

        text = " ".join(filler_sentences()[:2000])
    ids = list(tokenizer.plain([text])[0])
    return (ids * (length // len(ids) + 1))[:length]


def _reset_peak() -> bool:
    """Linux: reset this process's peak resident memory (VmHWM) to the current level, so the peak read after a
    run is exactly that run's (no sampling that a short run can slip between)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# the memory process's allocator: glibc maps every block over 64 KiB on its own and unmaps it when freed (the
# threshold fixed, so it cannot rise after a free), so the high-water mark is the tensors' working set and not
# what the allocator kept from earlier calls; with glibc's defaults one 4 x 256 RWKV-6's peak strayed between
# 15 and 59 MB from length to length with no allocation depending on length (measured, 2026-12-03)
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def _warmed(model: str, family: str, length: int, device: str | None, dtype: str | None) -> tuple[Any, list[int]]:
    """The backbone loaded the way the layer-wise encoder loads it (its device and dtype defaults too), warmed up
    on one chunk; the input's ids. No MTEB or sentence-transformers import: the process starts in ~4 s, not ~10."""
    import torch

    from rwkv_mteb.backbones import load_served_backbone

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    backbone = load_served_backbone(model, family, device=device, dtype=dtype)
    ids = _text(backbone.tokenizer, length)
    backbone.pooled([ids[: getattr(backbone, "chunk_tokens", 1024)]], _all(backbone), "mean")  # the warm-up
    return backbone, ids


def _all(backbone: Any) -> list[int]:
    return list(range(backbone.num_hidden_states))


def timed(model: str, family: str, length: int, device: str | None, dtype: str | None) -> dict[str, Any]:
    """One length's seconds, in this process with the default allocator (see the module docstring)."""
    from rwkv_mteb.provenance.memory import measured

    backbone, ids = _warmed(model, family, length, device, dtype)
    times: list[float] = []
    while len(times) < 3 or (sum(times) < 10.0 and len(times) < 7):
        with measured() as run:  # CUDA synchronised at both ends
            backbone.pooled([ids], _all(backbone), "mean")
        times.append(run.seconds)
    limit = getattr(backbone, "max_tokens", None)
    used = min(length, limit) if limit else length
    seconds = min(times)
    return {
        "tokens": length,
        "tokens_encoded": used,
        "truncated": used < length,
        "seconds": seconds,
        "seconds_per_token": seconds / used,
        "tokens_per_second": used / seconds,
        "runs": len(times),
        "device": str(backbone.device),
        "dtype": backbone.dtype,
        "revision": backbone.revision,
    }


def peak(model: str, family: str, length: int, device: str | None, dtype: str | None) -> dict[str, Any]:
    """One length's peak memory above the warmed-up level, one run, in this process (started with
    :data:`MEMORY_ENV` by :func:`scaling`)."""
    from rwkv_mteb.provenance.memory import measured, rss_mb

    backbone, ids = _warmed(model, family, length, device, dtype)
    base = rss_mb()
    exact = _reset_peak()
    with measured() as peaks:
        backbone.pooled([ids], _all(backbone), "mean")
    high = (_peak_mb() if exact else None) or peaks.rss_mb
    allocator = platform.libc_ver()[0] == "glibc" and all(os.environ.get(k) == v for k, v in MEMORY_ENV.items())
    return {
        "peak_rss_mb": max(high - base, 0.0),
        "peak_rss_exact": exact,
        "peak_rss_allocator": "glibc, mmap threshold 64 KiB" if allocator else "default",
        "peak_gpu_allocated_mb": peaks.gpu_allocated_mb,
    }


def point(model: str, family: str, length: int, device: str | None = None, dtype: str | None = None) -> dict[str, Any]:
    """One length: its time and its memory, each measured in its own fresh process."""
    values: dict[str, Any] = {}
    for part, env in (("time", {}), ("memory", MEMORY_ENV)):
        command = [sys.executable, "-m", "rwkv_mteb.runs.scaling", model, family, str(length), part]
        command += [*(["--device", device] if device else []), *(["--dtype", dtype] if dtype else [])]
        proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ModelUnavailableError(f"scaling {model} at {length} tokens failed: {last}")
        values |= json.loads(proc.stdout.strip().splitlines()[-1])
    return values


def spread(values: list[float]) -> float:
    """(max - min) / min: how far a curve that should be flat strays from flat."""
    low = min(values)
    return (max(values) - low) / low if low > 0 else float("inf")


def merge(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One length over several rounds: the fastest round's time, the highest round's memory (a process's own
    speed strays more than its runs do: one length read 186-230 µs/token across five fresh processes)."""
    fastest = min(rounds, key=lambda p: p["seconds"])
    highest = max(rounds, key=lambda p: p["peak_rss_mb"])
    memory = ("peak_rss_mb", "peak_rss_exact", "peak_rss_allocator", "peak_gpu_allocated_mb")
    return {**fastest, **{k: highest[k] for k in memory}, "rounds": len(rounds)}


def scaling(
    model: str, lengths: list[int], device: str | None = None, dtype: str | None = None, rounds: int = 1
) -> ScalingCurve:
    """Every length in a fresh process, ``rounds`` times over all lengths in turn (so that a slow spell of the
    machine falls on every length, not on one); the curve and its spreads."""
    from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME

    if model not in LANGUAGE_MODELS_BY_NAME:
        raise ModelUnavailableError(f"{model!r} is not a language model rwkv-mteb serves; see `rwkv-mteb models`")
    if rounds < 1:
        raise RwkvMtebError(f"--rounds {rounds}: each length must be measured at least once; give --rounds 1 or more")
    family = LANGUAGE_MODELS_BY_NAME[model].family
    measured: dict[int, list[dict[str, Any]]] = {length: [] for length in lengths}
    for r in range(rounds):
        for length in lengths:
            measured[length].append(point(model, family, length, device, dtype))
            print((f"round {r + 1}: " if rounds > 1 else "") + _row(measured[length][-1]), flush=True)
    points = [merge(measured[length]) for length in lengths]
    if rounds > 1:
        print(f"fastest of {rounds} rounds (memory: the highest):")
        for p in points:
            print(_row(p), flush=True)
    encoded = [p for p in points if not p["truncated"]]
    return ScalingCurve(
        model=model,
        revision=points[0]["revision"] if points else None,
        points=points,
        seconds_per_token_spread=spread([p["seconds_per_token"] for p in encoded]) if encoded else None,
        peak_rss_spread=spread([max(p["peak_rss_mb"], 1.0) for p in encoded]) if encoded else None,
        command=shlex.join(
            ["rwkv-mteb", "scaling", "-m", model, "--lengths", *map(str, lengths)]
            + (["--rounds", str(rounds)] if rounds > 1 else [])
        ),
    )


def _row(p: dict[str, Any]) -> str:
    cut = f" (cut to {p['tokens_encoded']})" if p["truncated"] else ""
    return (
        f"{p['tokens']:>7} tokens{cut}: {p['seconds']:.3f} s, {1e6 * p['seconds_per_token']:.1f} µs/token, "
        f"{p['tokens_per_second']:,.0f} tokens/s, peak +{p['peak_rss_mb']:.0f} MB resident"
        + (f", {p['peak_gpu_allocated_mb']:.0f} MB GPU" if p["peak_gpu_allocated_mb"] is not None else "")
    )


def write(curve: ScalingCurve, out: Path) -> None:
    from rwkv_mteb.provenance.sidecars import atomic_write_json

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, curve.model_dump(mode="json"))


if __name__ == "__main__":  # one point, in a fresh process (what scaling() runs)
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("family")
    parser.add_argument("length", type=int)
    parser.add_argument("part", choices=("time", "memory"))
    parser.add_argument("--device")
    parser.add_argument("--dtype")
    args = parser.parse_args()
    measure = timed if args.part == "time" else peak
    print(json.dumps(measure(args.model, args.family, args.length, args.device, args.dtype)))

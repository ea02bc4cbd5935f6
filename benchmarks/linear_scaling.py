"""Linear scaling, measured: time per token and peak memory of RWKV-6 against a transformers Transformer
(GPT-2 architecture, PyTorch SDPA attention) of the same width and depth, random weights, one sequence of
128 to 16,384 tokens, all layers' hidden states. RWKV runs the way the encoder runs it: chunks of 1,024 tokens
with the recurrent state carried over. Each point is measured in a fresh process (peak memory = ru_maxrss
above the level after the model was built). Goals: RWKV's time per token within +-25% over the range, its
peak memory growing no faster than the input; and where the Transformer's quadratic cost overtakes it.
Writes a PNG and the JSON.
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import ROOT, report
from rwkv6_forward import build

from rwkv_mteb.provenance.memory import rss_mb as _rss_mb


def point(kind: str, length: int, hidden: int, blocks: int) -> dict[str, float]:
    """One measurement in this (fresh) process: seconds (fastest of 3 to 10 runs after two warm-up runs) and
    peak resident memory above the level after the model was built, in MB (ru_maxrss)."""
    import resource

    ids = torch.randint(1, 65536, (1, length), generator=torch.Generator().manual_seed(length))
    if kind == "rwkv":
        from rwkv_mteb.backbones import NativeRwkv

        backbone = NativeRwkv.from_model(build(blocks, hidden))  # the encoder's path: chunks of 1024, state carried
        layers = list(range(backbone.num_hidden_states))

        def run() -> None:
            backbone.pooled(ids.tolist(), layers, "mean")
    else:
        from transformers import GPT2Config, GPT2Model

        torch.manual_seed(0)
        config = GPT2Config(
            n_embd=hidden,
            n_layer=blocks,
            n_head=hidden // 64,
            n_positions=max(length, 1024),
            vocab_size=65536,
            attn_implementation="sdpa",
        )
        gpt = GPT2Model(config).eval()

        @torch.no_grad()
        def run() -> None:
            gpt(input_ids=ids, output_hidden_states=True)

    base = _rss_mb()
    run()  # warm-up (allocator, kernel selection); short inputs need a few calls to settle
    run()
    times: list[float] = []
    while len(times) < 3 or (sum(times) < 1.0 and len(times) < 10):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"seconds": min(times), "peak_mb": max(peak, 0.0)}


def main() -> None:
    import json
    import subprocess
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048, 8192, 16384])
    parser.add_argument("--point", nargs=2, metavar=("KIND", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.point:
        print(json.dumps(point(args.point[0], int(args.point[1]), args.hidden, args.blocks)))
        return

    def measure(kind: str, length: int) -> dict[str, float]:
        cmd = [
            sys.executable,
            __file__,
            "--point",
            kind,
            str(length),
            "--hidden",
            str(args.hidden),
            "--blocks",
            str(args.blocks),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    points = []
    for length in args.lengths:
        r, g = measure("rwkv", length), measure("transformer", length)
        points.append(
            {
                "tokens": length,
                "rwkv_seconds": r["seconds"],
                "rwkv_us_per_token": 1e6 * r["seconds"] / length,
                "rwkv_peak_mb": r["peak_mb"],
                "transformer_seconds": g["seconds"],
                "transformer_us_per_token": 1e6 * g["seconds"] / length,
                "transformer_peak_mb": g["peak_mb"],
            }
        )
        print(points[-1], flush=True)

    per_token = [p["rwkv_us_per_token"] for p in points]
    mid = sorted(per_token)[len(per_token) // 2]
    crossover = next((p["tokens"] for p in points if p["transformer_seconds"] > p["rwkv_seconds"]), None)
    plot = ROOT / "results" / "linear_scaling.png"
    _plot(points, plot)
    report(
        "linear_scaling",
        {
            "hidden": args.hidden,
            "blocks": args.blocks,
            "points": points,
            "rwkv_us_per_token_spread_vs_median": [round(x / mid - 1, 3) for x in per_token],
            "rwkv_memory_per_token_mb": [p["rwkv_peak_mb"] / p["tokens"] for p in points],
            "transformer_slower_from_tokens": crossover,
            "plot": str(plot.relative_to(ROOT.parent)),
            "goal": "RWKV time per token within +-25%; its peak memory grows no faster than the input",
        },
    )


def _plot(points: list[dict], path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = [p["tokens"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(tokens, [p["rwkv_us_per_token"] for p in points], "o-", label="RWKV-6")
    left.plot(tokens, [p["transformer_us_per_token"] for p in points], "s-", label="Transformer (GPT-2, SDPA)")
    left.set(xscale="log", xlabel="input tokens", ylabel="µs per token", title="Time per token")
    right.plot(tokens, [p["rwkv_peak_mb"] for p in points], "o-", label="RWKV-6")
    right.plot(tokens, [p["transformer_peak_mb"] for p in points], "s-", label="Transformer (GPT-2, SDPA)")
    right.set(
        xscale="log",
        yscale="log",
        xlabel="input tokens",
        ylabel="peak memory above baseline (MB)",
        title="Peak resident memory",
    )
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

"""`rwkv-mteb scaling`, the user-facing tool, on a random RWKV-6 and a GPT-2-shaped Transformer (PyTorch SDPA
attention) of the same width and depth, 512 to 32,768 tokens, every hidden state mean-pooled, each length in a
fresh process (the command's own rule), RWKV's lengths over three rounds in turn (``--rounds``: one process's
speed strays 10-20% on this machine, so one round's curve read 12% on one run and 21% on the next). Goals: RWKV's
seconds per token flat within 20% over the range and its peak memory (resident, above the loaded model) within 10%
from the first length that fills one 1,024-token chunk; the Transformer's curves for contrast. Writes
results/scaling_command.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import report

RWKV, GPT2 = "RWKV/v6-Finch-1B6-HF", "openai-community/gpt2"


def _models(folder: Path, hidden: int, blocks: int, longest: int) -> str:
    """Random checkpoints of both shapes; the RWKV_MTEB_MODEL_PATHS value that serves them."""
    import torch
    from transformers import GPT2Config, GPT2Model

    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    make_checkpoint(folder / "rwkv6", layers=blocks, hidden=hidden, seed=0)
    torch.manual_seed(0)
    config = GPT2Config(n_embd=hidden, n_layer=blocks, n_head=hidden // 64, n_positions=longest, vocab_size=256)
    GPT2Model(config).save_pretrained(folder / "gpt2")
    return f"{RWKV}={folder / 'rwkv6'}{os.pathsep}{GPT2}={folder / 'gpt2'}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 8192, 32768])
    parser.add_argument("--rounds", type=int, default=3, help="RWKV's rounds (the Transformer, for contrast: one)")
    args = parser.parse_args()
    from rwkv_mteb.runs.scaling import spread

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RWKV_MTEB_MODEL_PATHS": _models(Path(tmp), args.hidden, args.blocks, max(args.lengths))}
        curves = {}
        for model in (RWKV, GPT2):
            out = Path(tmp) / "curve.json"
            command = ["rwkv-mteb", "scaling", "-m", model, "--lengths", *map(str, args.lengths), "--out", str(out)]
            command += ["--rounds", str(args.rounds if model == RWKV else 1)]
            bin_dir = Path(sys.executable).parent
            subprocess.run([str(bin_dir / command[0]), *command[1:]], env=env, check=True)

            curves[model] = json.loads(out.read_text())
    rwkv = curves[RWKV]["points"]
    full = [p for p in rwkv if p["tokens"] >= 1024]  # one chunk filled: shorter inputs hold less state
    report(
        "scaling_command",
        {
            "hidden": args.hidden,
            "blocks": args.blocks,
            "rwkv_rounds": args.rounds,
            "rwkv6": rwkv,
            "gpt2_shaped": curves[GPT2]["points"],
            "rwkv_seconds_per_token_spread": spread([p["seconds_per_token"] for p in rwkv]),
            "rwkv_peak_rss_spread_from_1024": spread([p["peak_rss_mb"] for p in full]),
            "gpt2_seconds_per_token_spread": spread([p["seconds_per_token"] for p in curves[GPT2]["points"]]),
            "goal": "RWKV seconds per token within 20% (max/min - 1) over the range; peak memory within 10% from the "
            "first length that fills a 1,024-token chunk",
        },
    )


if __name__ == "__main__":
    main()

"""RWKV-7 against RWKV-6 at the same width on the CPU, in one run: tokens per second of the full forward pass
(every hidden state) over batches of 32 real MRPC sentences, for both of RWKV-7's exact WKV forms; then the peak
resident memory of loading the 1.5B shape (24 blocks x 2048) in float32 in a fresh process.

Goal (issue "RWKV-7"): RWKV-7 at width 2048 within 0.8x the tokens per second of RWKV-6.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from _common import mrpc_sentences, report
from rwkv6_forward import build as build_rwkv6

from rwkv_mteb.backbones.base import pad_right
from rwkv_mteb.rwkv.checkpoint_rwkv7 import random_state_dict as random_state_dict7
from rwkv_mteb.rwkv.modeling_rwkv7 import Rwkv7Config, Rwkv7Model
from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer

LOADER = """
import json, re, sys, time, torch
from pathlib import Path
# VmHWM: this process image's peak (ru_maxrss would include the forking parent's, which survives exec)
peak = lambda: int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
start = time.perf_counter()
from rwkv_mteb.rwkv.checkpoint import load_rwkv as load_rwkv7
model = load_rwkv7(Path(sys.argv[1]))
seconds, after_load = time.perf_counter() - start, peak()
with torch.no_grad():  # touches every weight once: file-backed pages become resident
    model(torch.randint(1, 65536, (1, 16)))
print(json.dumps({"load_seconds": seconds, "parameters_loaded": sum(p.numel() for p in model.parameters()),
                  "peak_rss_mb_after_load": after_load, "peak_rss_mb_after_a_forward_pass": peak()}))
"""

WRITER = """
import sys, torch
from pathlib import Path
from rwkv_mteb.rwkv.checkpoint_rwkv7 import random_state_dict as random_state_dict7
from rwkv_mteb.rwkv.modeling_rwkv7 import Rwkv7Config
config = Rwkv7Config(vocab_size=65536, hidden_size=2048, num_hidden_layers=24, head_size=64)
torch.save(random_state_dict7(config), Path(sys.argv[1]))
"""


def config7(blocks: int, hidden: int) -> Rwkv7Config:
    return Rwkv7Config(vocab_size=65536, hidden_size=hidden, num_hidden_layers=blocks, head_size=64)


def build_rwkv7(blocks: int, hidden: int) -> Rwkv7Model:
    config = config7(blocks, hidden)
    with torch.device("meta"):
        model = Rwkv7Model(config, with_head=False)
    state = {k: v for k, v in random_state_dict7(config).items() if not k.startswith("head.")}
    model.load_state_dict(state, assign=True)
    return model.eval()


def tokens_per_second(model, batches, tokens: int, rounds: int = 3) -> float:  # type: ignore[no-untyped-def]
    def run() -> None:
        with torch.no_grad():
            for batch, _ in batches:
                for _ in model.iter_hidden_states(batch, model.initial_state(batch.shape[0])):
                    pass

    run()  # warm-up
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return tokens / best


def load_memory(folder: Path) -> dict:
    """In fresh processes: the checkpoint is written by one child and loaded by another, which reports its own
    peak resident memory (VmHWM) after loading and after a first forward pass."""
    if not (folder / "model.pth").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", WRITER, str(folder / "model.pth")], check=True)
    out = subprocess.run([sys.executable, "-c", LOADER, str(folder / "model.pth")], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["file_mb"] = round((folder / "model.pth").stat().st_size / 2**20)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dir", default="/tmp/rwkv-mteb-rwkv7-1b5-random")
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()

    texts = sorted(mrpc_sentences(args.sentences), key=len)
    ids = WorldTokenizer()(texts)
    batches = [pad_right(ids[i : i + args.batch_size], "cpu") for i in range(0, len(ids), args.batch_size)]
    tokens = sum(len(x) for x in ids)

    rwkv6 = build_rwkv6(args.blocks, args.hidden)
    rwkv7 = build_rwkv7(args.blocks, args.hidden)
    rates = {"rwkv6": tokens_per_second(rwkv6, batches, tokens)}
    for chunk in (1, 8, 16):
        rwkv7.set_wkv_chunk(chunk)
        rates[f"rwkv7_wkv_chunk_{chunk}"] = tokens_per_second(rwkv7, batches, tokens)
    best7 = max(v for k, v in rates.items() if k.startswith("rwkv7"))
    data = {
        "shape": f"{args.blocks} blocks x {args.hidden}, heads of 64, {len(texts)} MRPC sentences in batches of "
        f"{args.batch_size}, every hidden state",
        "tokens": tokens,
        "tokens_per_second": {k: round(v, 1) for k, v in rates.items()},
        "rwkv7_over_rwkv6": round(rates["rwkv7_wkv_chunk_1"] / rates["rwkv6"], 3),
        "rwkv7_best_form_over_rwkv6": round(best7 / rates["rwkv6"], 3),
    }
    if not args.skip_load:
        data["load_1b5_fp32"] = load_memory(Path(args.dir))
    report("rwkv7_forward", data)


if __name__ == "__main__":
    main()

"""RWKV-6 forward efficiency on the CPU: achieved FLOP/s against the GEMM peak measured in the same run.

Random checkpoint of the real width (hidden 2048, head size 64; fewer blocks than the 1.6B model), batches of
32 real MRPC sentences sorted by length. FLOPs per token: 2 x non-embedding parameters, plus the WKV
recurrence (about 5 multiply-adds per state entry: 10 x heads x 64 x 64 per block).
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import gemm_peak_flops, mrpc_sentences, report

from rwkv_mteb.backbones.base import pad_right
from rwkv_mteb.rwkv.checkpoint_rwkv6 import random_state_dict
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Config, Rwkv6Model
from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer


def build(blocks: int, hidden: int) -> Rwkv6Model:
    config = Rwkv6Config(
        vocab_size=65536, hidden_size=hidden, num_hidden_layers=blocks, attention_hidden_size=hidden, head_size=64
    )
    with torch.device("meta"):
        model = Rwkv6Model(config, with_head=False)
    state = {k: v for k, v in random_state_dict(config).items() if not k.startswith("head.")}
    model.load_state_dict(state, assign=True)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    model = build(args.blocks, args.hidden)
    cfg = model.config
    non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
    wkv_flops = 10 * cfg.num_heads * cfg.head_size**2 * cfg.num_hidden_layers
    flops_per_token = 2 * non_embedding + wkv_flops

    texts = sorted(mrpc_sentences(args.sentences), key=len)
    ids = WorldTokenizer()(texts)
    batches = [pad_right(ids[i : i + args.batch_size], "cpu") for i in range(0, len(ids), args.batch_size)]
    tokens = sum(len(x) for x in ids)
    padded = sum(b[0].numel() for b in batches)

    def run() -> None:
        with torch.no_grad():
            for batch, _ in batches:
                for _ in model.iter_hidden_states(batch, model.initial_state(batch.shape[0])):
                    pass

    run()
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    # the GEMM the model spends most of its time in: (tokens in a batch) x hidden @ hidden x ffn
    rows = max(b[0].numel() for b in batches)
    peak = gemm_peak_flops(rows, cfg.hidden_size, cfg.ffn_size)
    achieved = padded * flops_per_token / seconds
    report(
        "rwkv6_forward",
        {
            "blocks": cfg.num_hidden_layers,
            "hidden": cfg.hidden_size,
            "heads": cfg.num_heads,
            "sentences": len(texts),
            "tokens": tokens,
            "padded_tokens": padded,
            "seconds": seconds,
            "tokens_per_second": tokens / seconds,
            "flops_per_token": flops_per_token,
            "achieved_flops": achieved,
            "gemm_peak_flops_fp32": peak,
            "ratio_to_gemm_peak": achieved / peak,
            "useful_ratio_to_gemm_peak": tokens * flops_per_token / seconds / peak,
            "goal": ">= 0.6 of the fp32 GEMM peak",
        },
    )


if __name__ == "__main__":
    main()

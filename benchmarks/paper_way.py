"""Against the paper's way of running RWKV: our batched sequence mode, over (a) token-by-token recurrent
inference (one call per token, as an RNN) and (b) the remote-code style of one full forward per layer studied
(the paper looked at 6 layers: 1, 3, 5, 7, 9, 11), on the same sentences."""

from __future__ import annotations

import argparse
import time

import torch
from _common import mrpc_sentences, report
from rwkv6_forward import build

from rwkv_mteb.backbones import NativeRwkv
from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer

PAPER_LAYERS = [1, 3, 5, 7, 9, 11]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--sentences", type=int, default=64)
    args = parser.parse_args()
    model = build(args.blocks, args.hidden)
    backbone = NativeRwkv.from_model(model)
    ids = WorldTokenizer()(sorted(mrpc_sentences(args.sentences), key=len))
    batches = [ids[i : i + 32] for i in range(0, len(ids), 32)]

    def ours() -> None:
        for b in batches:
            backbone.pooled(b, PAPER_LAYERS, "mean")

    def per_layer_forward() -> None:  # what a hidden-states-per-call API invites: one forward per layer
        for layer in PAPER_LAYERS:
            for b in batches:
                backbone.pooled(b, [layer], "mean")

    @torch.no_grad()
    def token_by_token() -> None:  # one sentence at a time, one token per call, as an RNN
        for seq in ids:
            state = model.initial_state(1)
            for token in seq:
                for _ in model.iter_hidden_states(torch.tensor([[token]]), state):
                    pass

    ours()
    t_ours = timed(ours)
    t_layers = timed(per_layer_forward)
    t_rnn = timed(token_by_token)
    pairs = len(ids) / 2
    report(
        "paper_way",
        {
            "blocks": args.blocks,
            "hidden": args.hidden,
            "sentences": len(ids),
            "layers": PAPER_LAYERS,
            "seconds_batched_all_layers_one_pass": t_ours,
            "seconds_one_forward_per_layer": t_layers,
            "seconds_token_by_token": t_rnn,
            "speedup_over_forward_per_layer": t_layers / t_ours,
            "speedup_over_token_by_token": t_rnn / t_ours,
            "seconds_per_pair_ours": t_ours / pairs,
        },
    )


if __name__ == "__main__":
    main()

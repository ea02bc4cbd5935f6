"""All layers for the price of one: pooling every hidden state of a 24-block RWKV-6 in one pass, against
pooling only the last one (which needs the full forward anyway); and a sweep's pass that pools every layer by
two methods at once (mean and weighted mean, as `rwkv-mteb sweep --pooling mean weighted_mean` does), against
the same single-layer pass. Goal: both ratios <= 1.1."""

from __future__ import annotations

import argparse

from _common import best_of, mrpc_sentences, report
from rwkv6_forward import build

from rwkv_mteb.backbones import NativeRwkv
from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--sentences", type=int, default=128)
    args = parser.parse_args()
    backbone = NativeRwkv.from_model(build(args.blocks, args.hidden))
    ids = WorldTokenizer()(sorted(mrpc_sentences(args.sentences), key=len))
    batches = [ids[i : i + 32] for i in range(0, len(ids), 32)]
    every = list(range(backbone.num_hidden_states))
    last = [backbone.num_hidden_states - 1]

    def pool(layers: list[int]):  # type: ignore[no-untyped-def]
        return lambda: [backbone.pooled(b, layers, "mean") for b in batches]

    def pool_two(layers: list[int]):  # type: ignore[no-untyped-def]
        return lambda: [backbone.pooled_many(b, layers, ("mean", "weighted_mean")) for b in batches]

    t_all, t_last, t_two = best_of(pool(every)), best_of(pool(last)), best_of(pool_two(every))
    report(
        "layer_sweep",
        {
            "blocks": args.blocks,
            "hidden": args.hidden,
            "sentences": len(ids),
            "hidden_states": len(every),
            "seconds_all_layers": t_all,
            "seconds_last_layer_only": t_last,
            "ratio": t_all / t_last,
            "seconds_all_layers_two_poolings": t_two,
            "ratio_two_poolings": t_two / t_last,
            "goal": "ratio <= 1.1, ratio_two_poolings <= 1.1",
        },
    )


if __name__ == "__main__":
    main()

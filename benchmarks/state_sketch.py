"""What the sketch of the ``wkv_state`` pooling changes: on the real tiny RWKV-7 (one head of 64, so the exact
state is 4,096 wide and the sketch 256), the MRPC validation pairs' cosine Spearman against the labels per layer,
sketched vs exact (``wkv_state_full``), and how closely the two rank the pairs (Spearman of the cosines)."""

from __future__ import annotations

import csv

import numpy as np
from _common import SHARED_DATA, report
from scipy.stats import spearmanr

from rwkv_mteb.backbones import NativeRwkv

LAYERS = list(range(13))


def mrpc_pairs() -> tuple[list[str], list[str], np.ndarray]:
    with (SHARED_DATA / "mrpc" / "validation.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[3] for r in rows], [r[4] for r in rows], np.array([float(r[0]) for r in rows])


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def main() -> None:
    backbone = NativeRwkv(SHARED_DATA / "rwkvcpp" / "tiny-rwkv-7v0-834K.pth")
    left, right, labels = mrpc_pairs()
    poolings = ("wkv_state", "wkv_state_full")
    vectors = {}
    for side, texts in (("left", left), ("right", right)):
        ids = backbone.tokenizer(texts)
        parts = [backbone.pooled_many(ids[i : i + 64], LAYERS, poolings) for i in range(0, len(ids), 64)]
        vectors[side] = {p: np.concatenate([part[p].numpy() for part in parts]) for p in poolings}
    rows = []
    for slot, layer in enumerate(LAYERS):
        sketched = cosines(vectors["left"]["wkv_state"][:, slot], vectors["right"]["wkv_state"][:, slot])
        exact = cosines(vectors["left"]["wkv_state_full"][:, slot], vectors["right"]["wkv_state_full"][:, slot])
        rows.append(
            {
                "layer": layer,
                "spearman_sketched": float(spearmanr(sketched, labels).statistic),
                "spearman_exact": float(spearmanr(exact, labels).statistic),
                "cosine_rank_agreement": float(spearmanr(sketched, exact).statistic),
                "max_abs_cosine_difference": float(np.abs(sketched - exact).max()),
            }
        )
        print(rows[-1])
    gaps = [abs(r["spearman_sketched"] - r["spearman_exact"]) for r in rows]
    report(
        "state_sketch",
        {
            "model": "tiny-rwkv-7v0-834K (rwkv.cpp), MRPC validation, 408 pairs",
            "widths": {"wkv_state": backbone.pooled_width("wkv_state"), "wkv_state_full": 4096},
            "layers": rows,
            "max_spearman_gap": max(gaps),
            "median_rank_agreement": float(np.median([r["cosine_rank_agreement"] for r in rows])),
        },
    )


if __name__ == "__main__":
    main()

"""Padding-free batches: the segment plan, no model work on padded positions, the same vectors as one padded pass,
and encode's batches formed by token count."""

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from rwkv_mteb.backbones import NativeRwkv
from rwkv_mteb.backbones.segments import Segment, plan_segments
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder, LayerwiseModel
from rwkv_mteb.rwkv.checkpoint import make_checkpoint

LENGTHS = [40, 40, 31, 30, 30, 12, 3, 1]


def positions_run(segments: list[Segment]) -> int:
    return sum(s.rows * (s.end - s.start) for s in segments)


def test_plan_covers_every_position_with_the_rows_still_running():
    for overhead in (0, 8, 32, 1e9):
        segments = plan_segments(LENGTHS, overhead)
        assert segments[0].start == 0 and segments[-1].end == max(LENGTHS)
        assert all(a.end == b.start for a, b in pairwise(segments))
        for s in segments:  # every row that has a position in the segment runs, longest first
            assert s.rows == sum(n > s.start for n in LENGTHS)


def test_plan_trades_segments_against_padding():
    free = plan_segments(LENGTHS, overhead=0)
    assert positions_run(free) == sum(LENGTHS)  # no padded position at all
    assert [s.end for s in free] == sorted(set(LENGTHS))
    padded = plan_segments(LENGTHS, overhead=math.inf)
    assert padded == [Segment(0, 40, len(LENGTHS))]  # one right-padded pass
    middle = plan_segments(LENGTHS, overhead=32)
    assert len(padded) < len(middle) < len(free)
    assert sum(LENGTHS) < positions_run(middle) < positions_run(padded)
    assert plan_segments([7, 7, 7], overhead=0) == [Segment(0, 7, 3)]


def test_plan_splits_long_inputs_and_refuses_unsorted_lengths():
    assert plan_segments([10, 4], overhead=math.inf, max_positions=4) == [
        Segment(0, 4, 2),
        Segment(4, 8, 1),
        Segment(8, 10, 1),
    ]
    with pytest.raises(ValueError, match="longest first"):
        plan_segments([1, 5], overhead=0)
    assert plan_segments([], overhead=0) == []


@pytest.fixture(params=["rwkv6", "rwkv7"])
def backbone(request, small_rwkv, tmp_path):
    if request.param == "rwkv6":
        return NativeRwkv(small_rwkv)
    return NativeRwkv(make_checkpoint(tmp_path / "v7", layers=3, hidden=128, vocab=256, seed=1, arch="rwkv7"))


def random_ids(lengths: list[int], vocab: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randint(1, vocab, (n,), generator=generator).tolist() for n in lengths]


@pytest.mark.parametrize("pooling", ["mean", "weighted_mean", "max", "last", "first_last"])
@pytest.mark.parametrize("spans", [False, True])
def test_padding_free_equals_one_padded_pass(backbone, pooling, spans):
    ids = random_ids([3, 40, 1, 12, 30, 40, 31, 30], backbone.model.config.vocab_size)  # caller's order, unsorted
    starts = [1, 20, 0, 11, 5, 39, 0, 29] if spans else None  # a prompt's pooled span: from here to the end
    layers = list(range(backbone.num_hidden_states))
    backbone.segment_overhead = math.inf
    padded = backbone.pooled(ids, layers, pooling, starts)
    for overhead in (0, 8):
        backbone.segment_overhead = overhead
        torch.testing.assert_close(backbone.pooled(ids, layers, pooling, starts), padded, atol=1e-5, rtol=1e-5)
    if spans and pooling != "last":  # and the span is what counts: pooling from 0 differs
        assert not torch.allclose(backbone.pooled(ids, layers, pooling), padded, atol=1e-5)


def test_no_model_work_on_padding(backbone, monkeypatch):
    """With cuts at every length, the model runs exactly the real tokens (counted at its input)."""
    lengths = [3, 40, 1, 12, 30, 40, 31, 30]
    ran = []
    original = backbone.model.iter_hidden_states
    monkeypatch.setattr(
        backbone.model, "iter_hidden_states", lambda ids, state: ran.append(ids.numel()) or original(ids, state)
    )
    backbone.segment_overhead = 0
    backbone.pooled(random_ids(lengths, backbone.model.config.vocab_size), [1], "mean")
    assert sum(ran) == sum(lengths)
    ran.clear()
    backbone.segment_overhead = math.inf
    backbone.pooled(random_ids(lengths, backbone.model.config.vocab_size), [1], "mean")
    assert ran == [len(lengths) * max(lengths)]


def test_encode_batches_by_token_count(tmp_path):
    from rwkv_mteb.rwkv.checkpoint import VOCAB_FILE, make_checkpoint

    path = make_checkpoint(tmp_path / "bytes", layers=2, hidden=64, vocab=256)
    assert not (path / VOCAB_FILE).exists()  # byte-level: the World vocabulary is not written beside it
    backbone = NativeRwkv(path)  # byte-level: tokens = UTF-8 bytes, not characters
    texts = ["ééééé", "abcdefgh", "😀😀😀", "xy", "Привет мир"]
    model = LayerwiseModel(modules=[LayerwiseEncoder(backbone, [2], cache=False)], device="cpu")
    assert [model._input_length(t) for t in texts] == [len(t.encode()) for t in texts]
    seen: list[list[str]] = []
    original = model[0].preprocess
    model[0].preprocess = lambda batch, **kw: seen.append(list(batch)) or original(batch, **kw)
    vectors = model.encode(texts, batch_size=2)
    assert [len(seen[0][0].encode()), len(seen[0][1].encode())] == [19, 12]  # the two longest in tokens
    plain = SentenceTransformer(modules=[LayerwiseEncoder(backbone, [2], cache=False)], device="cpu")
    np.testing.assert_allclose(vectors, plain.encode(texts, batch_size=2), atol=1e-6)

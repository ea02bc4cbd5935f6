"""Our RWKV-6 against BlinkDL's reference implementation (PyPI `rwkv`), on random checkpoints.

The oracle runs one sequence at a time on the CPU in fp32 and returns the logits of the last position and the
recurrent state; we compare both, in its sequence mode and its token-by-token mode, with our batched forward
(right-padded, several lengths at once) and our own token-by-token mode, in both WKV forms.
"""

import os

import pytest
import torch

os.environ["RWKV_JIT_ON"] = "0"
os.environ["RWKV_CUDA_ON"] = "0"

from rwkv.model import RWKV

from rwkv_mteb.rwkv.checkpoint import load_rwkv, make_checkpoint

SHAPES = [  # (blocks, hidden): heads = hidden / 64
    (4, 128),
    (4, 256),
    (5, 192),
]
TOL = 1e-4


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def checkpoint(request, tmp_path_factory):
    """The checkpoint (files) and the oracle, which no test mutates: shared by the module's tests."""
    layers, hidden = request.param
    root = tmp_path_factory.mktemp(f"parity{layers}x{hidden}")
    make_checkpoint(root / "hf", layers=layers, hidden=hidden, vocab=512, seed=layers + hidden)
    pth = make_checkpoint(root / "pth", layers=layers, hidden=hidden, vocab=512, seed=layers + hidden, fmt="pth")
    return root / "hf", RWKV(str(pth.with_suffix("")), strategy="cpu fp32", verbose=False)


@pytest.fixture
def pair(checkpoint):
    """Our model, loaded afresh for each test (tests set its WKV form), with the production defaults."""
    path, oracle = checkpoint
    return load_rwkv(path, with_head=True), oracle


def oracle_sequence(oracle, tokens):
    logits, state = oracle.forward(tokens, None)
    return logits, state


def oracle_stepwise(oracle, tokens):
    state = None
    for token in tokens:
        logits, state = oracle.forward([token], state)
    return logits, state


def assert_state_equal(ours_state, oracle_state, row=0):
    for i, (shift_att, wkv, shift_ffn) in enumerate(ours_state):
        ref = oracle_state[3 * i : 3 * i + 3]
        torch.testing.assert_close(shift_att[row], ref[0], atol=TOL, rtol=0)
        torch.testing.assert_close(wkv[row], ref[1], atol=TOL, rtol=0)
        torch.testing.assert_close(shift_ffn[row], ref[2], atol=TOL, rtol=0)


def test_production_wkv_form_is_the_chunked_one(pair):
    ours, _ = pair
    assert {block.attention.wkv_chunk for block in ours.rwkv.blocks} == {8}


@pytest.mark.parametrize("wkv_chunk", [1, 8, 5], ids=["loop", "chunked-8", "chunked-5"])
def test_batched_forward_matches_oracle(pair, wkv_chunk):
    ours, oracle = pair
    ours.set_wkv_chunk(wkv_chunk)
    gen = torch.Generator().manual_seed(0)
    lengths = [1, 2, 7, 16, 33, 64]
    seqs = [torch.randint(1, 512, (n,), generator=gen).tolist() for n in lengths]
    batch = torch.zeros(len(seqs), max(lengths), dtype=torch.long)
    for row, seq in enumerate(seqs):
        batch[row, : len(seq)] = torch.tensor(seq)
    _, logits, state = ours(batch)
    for row, seq in enumerate(seqs):
        ref_logits, _ref_state = oracle_sequence(oracle, seq)
        assert ref_logits.abs().max() > 0.5  # activations of order 1, so the tolerance means something
        torch.testing.assert_close(logits[row, len(seq) - 1], ref_logits, atol=TOL, rtol=0)
    # the state after the whole batch is the longest sequence's own (right padding never reaches it)
    assert_state_equal(state, oracle_sequence(oracle, seqs[-1])[1], row=len(seqs) - 1)


def test_token_by_token_matches_oracle_in_both_modes(pair):
    ours, oracle = pair
    seq = torch.randint(1, 512, (23,), generator=torch.Generator().manual_seed(1)).tolist()
    state = ours.initial_state(1)
    for token in seq:
        _, logits, state = ours(torch.tensor([[token]]), state)
    for ref_logits, ref_state in (oracle_stepwise(oracle, seq), oracle_sequence(oracle, seq)):
        torch.testing.assert_close(logits[0, -1], ref_logits, atol=TOL, rtol=0)
        assert_state_equal(state, ref_state)


def test_chunks_with_carried_state_equal_one_pass(pair):
    ours, _ = pair  # the production chunk size
    seq = torch.randint(1, 512, (2, 50), generator=torch.Generator().manual_seed(2))
    hidden, _, state = ours(seq)
    carried = ours.initial_state(2)
    parts = [ours(seq[:, a:b], carried)[0] for a, b in ((0, 13), (13, 14), (14, 50))]
    for layer in range(len(hidden)):
        joined = torch.cat([part[layer] for part in parts], dim=1)
        torch.testing.assert_close(joined, hidden[layer], atol=1e-5, rtol=1e-5)
    assert_state_equal(carried, [t[0] for layer_state in state for t in layer_state])


def test_hidden_state_layout(pair):
    """Entry i < L: output of block i; entry L: ln_out of entry L-1; no embeddings entry."""
    import torch.nn.functional as F

    ours, _ = pair
    ids = torch.randint(1, 512, (1, 9), generator=torch.Generator().manual_seed(3))
    hidden, logits, _ = ours(ids)
    blocks = ours.rwkv.blocks
    assert len(hidden) == len(blocks) + 1
    pre = blocks[0].pre_ln
    h = F.layer_norm(ours.rwkv.embeddings(ids), pre.weight.shape, pre.weight, pre.bias)
    state = ours.initial_state(1)
    for i, block in enumerate(blocks):
        h, state[i] = block(h, state[i])
        torch.testing.assert_close(hidden[i], h)
    ln = ours.rwkv.ln_out
    torch.testing.assert_close(hidden[-1], F.layer_norm(hidden[-2], hidden[-2].shape[-1:], ln.weight, ln.bias))
    torch.testing.assert_close(logits, ours.head(hidden[-1]))


def test_half_precision_keeps_float32_state(tmp_path):
    path = make_checkpoint(tmp_path / "hf", layers=2, hidden=128, vocab=512, seed=5)
    full = load_rwkv(path, with_head=True)
    half = load_rwkv(path, dtype=torch.bfloat16, with_head=True)
    ids = torch.randint(1, 512, (2, 20), generator=torch.Generator().manual_seed(4))
    hidden_full, _, _ = full(ids)
    hidden_half, _, state = half(ids)
    assert state[0][1].dtype == torch.float32 and hidden_half[-1].dtype == torch.float32
    cos = torch.nn.functional.cosine_similarity(hidden_full[-1].flatten(), hidden_half[-1].flatten(), dim=0)
    assert cos > 0.999

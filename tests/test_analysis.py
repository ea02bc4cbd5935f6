"""`rwkv-mteb analyze` (rwkv_mteb.analysis) on known answers: spectra of matrices with known singular values,
memory lengths of known decays, CKA's invariances, gradient decay factors, the gradient at the top layer by hand;
and the command end to end on the tiny real RWKV-6 and a tiny Llama."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rwkv_mteb.analysis import cka, decay, gradients, spectra
from rwkv_mteb.analysis.records import AnalysisFile
from rwkv_mteb.rwkv.checkpoint import load_rwkv


def with_spectrum(values, rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((rows, len(values))))
    v, _ = np.linalg.qr(rng.standard_normal((cols, len(values))))
    return u @ np.diag(values) @ v.T


def test_spectrum_statistics_of_known_matrices():
    rank_one = np.outer(np.arange(1, 6), np.arange(1, 8)).astype(float)
    stats = spectra.spectrum_stats(spectra.spectrum(rank_one))
    assert stats["stable_rank"] == pytest.approx(1) and stats["effective_rank"] == pytest.approx(1)
    identity = spectra.spectrum_stats(spectra.spectrum(np.eye(10)))
    assert identity["stable_rank"] == pytest.approx(10) and identity["effective_rank"] == pytest.approx(10)
    assert identity["decay_rate"] == pytest.approx(0)
    n, b = 40, 3.0
    known = np.exp(-b * np.arange(n) / n)  # s_i = exp(-b (i - 1) / n): decay rate exactly b
    stats = spectra.spectrum_stats(spectra.spectrum(with_spectrum(known, 60, n)))
    assert stats["decay_rate"] == pytest.approx(b, rel=1e-6)
    assert stats["stable_rank"] == pytest.approx((known**2).sum() / known[0] ** 2, rel=1e-6)
    p = known / known.sum()
    assert stats["effective_rank"] == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-6)


def test_memory_length_of_known_decays():
    tau = np.array([1.0, 10.0, 250.0])
    np.testing.assert_allclose(decay.memory_length(-1 / tau), tau)  # d = exp(-1/tau) loses e in tau tokens
    assert decay.memory_length(np.array([0.0]))[0] == decay.MAX_MEMORY
    heads = decay.head_stats(np.log(np.array([[[0.5, 0.9, 0.99]], [[0.5, 0.9, 0.99]]])).reshape(2, 1, 3))
    assert heads[0]["decay_q50"] == pytest.approx(0.9)
    assert heads[0]["memory_q50"] == pytest.approx(-1 / np.log(0.9))


def test_static_decay_is_read_from_the_bias(shared_data):
    path = shared_data / "rwkvcpp" / "tiny-rwkv-6v0-1m.pth"
    state = torch.load(path, map_location="cpu")
    ours = decay.static_log_decay(load_rwkv(path, with_head=False))
    for i, log_d in enumerate(ours):  # RWKV-6: ln d = -exp(time_decay), 8 heads of 8 channels
        expected = -np.exp(state[f"blocks.{i}.att.time_decay"].double().numpy().reshape(8, 8))
        np.testing.assert_allclose(log_d, expected, rtol=1e-12)


def test_cka_invariances():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 8))
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    assert cka.linear_cka(x, x) == pytest.approx(1)
    assert cka.linear_cka(x, x @ q) == pytest.approx(1)
    assert cka.linear_cka(x, 3 * x + 2) == pytest.approx(1)
    y = rng.standard_normal((50, 30))
    wide = rng.standard_normal((20, 64))  # fewer rows than columns: the n x n Gram route
    hsic = np.trace(wide @ wide.T @ wide @ wide.T)
    assert cka.linear_cka(wide, wide) == pytest.approx(1)
    # the definition through centred Gram matrices, written out
    h = np.eye(50) - 1 / 50
    kx, ky = h @ x @ x.T @ h, h @ y @ y.T @ h
    by_hand = (kx * ky).sum() / (np.linalg.norm(kx) * np.linalg.norm(ky))
    assert cka.linear_cka(x, y) == pytest.approx(by_hand, rel=1e-10) and hsic > 0
    assert cka.cka_matrix([x, np.ones((50, 3))])[1][1] is None  # a constant representation: undefined


def test_gamma_of_known_gradient_norms():
    norms = [3 * 0.8 ** (10 - layer) for layer in range(11)] + [123.0]  # the last entry (ln_out) is left out
    assert gradients.fit_gamma(norms) == pytest.approx(0.8)


def test_gradient_at_the_top_layer_by_hand_and_batching(shared_data):
    """dL/dh_L = (softmax(logits) - onehot) / T' @ W_head for the mean next-token loss; batched norms equal
    the norms of each text alone."""
    model = load_rwkv(shared_data / "rwkvcpp" / "tiny-rwkv-6v0-1m.pth", with_head=True)
    head = model.head.weight.detach().double()
    forward = gradients.rwkv_forward(model)
    texts = [[34, 105, 110, 50, 60, 70], [1, 2, 3], [70, 80, 90, 100, 110, 120, 13, 33, 44]]
    batched = gradients.gradient_norms(forward, texts)
    for ids, norms in zip(texts, batched, strict=True):
        alone = gradients.gradient_norms(forward, [ids])[0]
        np.testing.assert_allclose(norms, alone, rtol=1e-4)  # float32, through 12 blocks backwards
        with torch.no_grad():
            _, logits = forward(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool))
        probs = F.softmax(logits[0, :-1].double(), dim=-1)
        probs[torch.arange(len(ids) - 1), torch.tensor(ids[1:])] -= 1
        by_hand = torch.cat([probs / (len(ids) - 1) @ head, torch.zeros(1, head.shape[1], dtype=torch.float64)])
        assert norms[-1] == pytest.approx(float(by_hand.norm()), rel=1e-4)


@pytest.mark.slow
def test_analyze_command_on_real_tiny_rwkv_and_a_tiny_llama(shared_data, tiny_llama, tmp_path):
    from tests.conftest import cli_env, run

    rwkv, llama = "RWKV/v6-Finch-1B6-HF", "HuggingFaceTB/SmolLM2-135M-Instruct"
    env = cli_env(
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_MODEL_PATHS=f"{rwkv}={shared_data / 'rwkvcpp' / 'tiny-rwkv-6v0-1m.pth'}:{llama}={tiny_llama}",
    )
    proc = run("rwkv-mteb", "analyze", "-m", rwkv, llama, "-t", "MRPCZeroShot", "--eval-splits", "validation",
               "--sample", "24", "--output-folder", str(tmp_path), env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = {p.name: AnalysisFile.model_validate(json.loads(p.read_text())) for p in (tmp_path / "analysis").iterdir()}
    ours = files["RWKV__v6-Finch-1B6-HF__MRPCZeroShot.json"]
    theirs = files["HuggingFaceTB__SmolLM2-135M-Instruct__MRPCZeroShot.json"]
    assert ours.texts == theirs.texts == 24
    assert len(ours.layers) == 13 and len(theirs.layers) == 3
    assert all(ours.cka_layers[k][k] == pytest.approx(1) for k in range(13))
    assert ours.layers[0].decay_static and ours.layers[0].decay_data and ours.layers[12].block is None
    assert theirs.layers[0].block is None and theirs.layers[1].spectra  # embeddings entry: no block
    assert {s.name for s in ours.layers[0].spectra} >= {"attention.key", "feed_forward.value"}
    assert sum(b.texts for b in ours.gradients.values()) == 24
    ours_cka = [r.cka for r in ours.cka_models[llama]]
    theirs_cka = [r.cka for r in theirs.cka_models[rwkv]]
    np.testing.assert_allclose(ours_cka, theirs_cka, rtol=1e-9)  # CKA is symmetric

"""RWKV state poolings (rwkv_mteb.backbones.state) against the state BlinkDL's `rwkv` package returns, on the real
tiny rwkv.cpp RWKV-6 and RWKV-7 weights: every layer, a padding-free batch of several lengths, long inputs in
chunks; and the pooling through the encoder, variant names, sweeps and `mteb run`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rwkv_mteb.backbones import NativeRwkv, TransformersModel
from rwkv_mteb.backbones.state import SKETCH, STATE_POOLINGS, reduce_state, sketch_matrices
from rwkv_mteb.errors import VariantError
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder

TINY = {"rwkv6": "tiny-rwkv-6v0-1m.pth", "rwkv7": "tiny-rwkv-7v0-834K.pth"}
ROWS = [[34, 105, 110, 50, 60], [1, 2, 3], [70, 80, 90, 100, 110, 120, 13, 33, 44, 55, 66], [65], [9, 8, 7]]
LAYERS = [0, 3, 11, 12]  # 12 is ln_out: the last block's state


def oracle_states(path: Path, tmp_path: Path) -> list[list[torch.Tensor]]:
    """The `rwkv` package's state after each row, in its own process (it picks RWKV-7 code at import)."""
    script = Path(__file__).with_name("rwkv7_oracle.py")
    env = {**os.environ}
    if "7v0" not in path.name:  # the same script serves RWKV-6 with the RWKV-7 switch off
        env["RWKV_ORACLE_V6"] = "1"
    proc = subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "oracle.pt"), json.dumps(ROWS)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [state for _, state in torch.load(tmp_path / "oracle.pt")["sequence"]]


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, shared_data, tmp_path_factory):
    path = shared_data / "rwkvcpp" / TINY[request.param]
    return NativeRwkv(path), oracle_states(path, tmp_path_factory.mktemp(request.param))


@pytest.mark.parametrize("pooling", STATE_POOLINGS)
def test_state_poolings_equal_the_rwkv_package_state(tiny, pooling):
    backbone, states = tiny
    pooled = backbone.pooled_many(ROWS, LAYERS, (pooling, "mean"))[pooling]
    assert pooled.shape == (len(ROWS), len(LAYERS), backbone.pooled_width(pooling))
    for row, state in enumerate(states):
        for slot, layer in enumerate(LAYERS):
            block = min(layer, 11)
            theirs = tuple(part[None].float() for part in state[3 * block : 3 * block + 3])
            torch.testing.assert_close(pooled[row, slot], reduce_state(pooling, theirs)[0], atol=1e-5, rtol=1e-5)


def test_state_poolings_are_batch_invariant_and_chunk_invariant(tiny):
    backbone, _ = tiny
    poolings = (*STATE_POOLINGS, "last")
    together = backbone.pooled_many(ROWS, LAYERS, poolings)
    chunk_tokens = backbone.chunk_tokens
    try:
        backbone.chunk_tokens = 2  # long inputs: state carried from chunk to chunk
        chunked = backbone.pooled_many(ROWS, LAYERS, poolings)
    finally:
        backbone.chunk_tokens = chunk_tokens
    for row, ids in enumerate(ROWS):
        alone = backbone.pooled_many([ids], LAYERS, poolings)
        for pooling in poolings:
            torch.testing.assert_close(together[pooling][row], alone[pooling][0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(chunked[pooling][row], alone[pooling][0], atol=1e-5, rtol=1e-5)


def test_the_sketch_rule():
    """Heads no wider than the sketch are flattened exactly; wider ones give P^T S Q with the seeded P, Q, the
    same every time; ``wkv_state_full`` is the flattened matrix."""
    small = torch.randn(2, 3, SKETCH, SKETCH)
    shift = torch.randn(2, 5)
    assert torch.equal(reduce_state("wkv_state", (shift, small, shift)), small.flatten(1))
    wide = torch.randn(2, 3, 64, 64, dtype=torch.float64).float()
    p, q = sketch_matrices(64)
    expected = np.einsum("ni,bhnm,mj->bhij", p.numpy(), wide.numpy(), q.numpy()).reshape(2, -1)
    np.testing.assert_allclose(reduce_state("wkv_state", (shift, wide, shift)).numpy(), expected, atol=1e-4)
    drawn = torch.randn(2, 64, SKETCH, generator=torch.Generator().manual_seed(0)) / SKETCH**0.5
    assert torch.equal(torch.stack([p, q]), drawn)  # seeded: the same matrices on every machine
    assert torch.equal(reduce_state("wkv_state_full", (shift, wide, shift)), wide.flatten(1))
    torch.testing.assert_close(reduce_state("shift_state", (shift, wide, 2 * shift)), torch.cat([shift, 2 * shift], 1))


def test_state_poolings_need_an_rwkv_backbone(tiny_llama, registered):
    import mteb

    with pytest.raises(VariantError, match="reads RWKV's recurrent state"):
        LayerwiseEncoder(TransformersModel(tiny_llama), [1], "wkv_state", cache=False)
    with pytest.raises(VariantError, match="reads RWKV's recurrent state"):
        mteb.get_model_meta("HuggingFaceTB/SmolLM2-135M-Instruct (layer=2, pooling=shift_state)")
    meta = mteb.get_model_meta("RWKV/v6-Finch-1B6-HF (layer=2, pooling=wkv_state)")
    assert meta.experiment_kwargs == {"layer": 2, "pooling": "wkv_state"}


@pytest.mark.slow
def test_a_state_sweep_of_the_real_tiny_rwkv7_equals_mteb_run(registered, shared_data, tmp_path):
    """The tiny real RWKV-7 (its own name): a sweep over mean and the state poolings, and one state variant by
    `mteb run` with vectors computed afresh, on every second pair of MRPC's validation split (a state pooling
    cuts the batch at every length: the full split took 40 s)."""
    from tests.conftest import cli_env, result_files, variant_of
    from tests.conftest import run as run_command
    from tests.mini_tasks import make_mini_tasks

    model, task = "rwkvcpp/tiny-rwkv-7v0-834K", "MiniMRPCZeroShot"
    env = cli_env(
        **make_mini_tasks(tmp_path / "mini", shared_data, ["MRPCZeroShot"], every=2),
        RWKV_MTEB_MODEL_PATHS=f"{model}={shared_data / 'rwkvcpp' / TINY['rwkv7']}",
        RWKV_MTEB_CACHE_DIR=str(tmp_path / "cache"),
    )
    sweep = ["sweep", "-m", model, "-t", task, "--eval-splits", "validation", "--layers", "2", "3"]
    sweep += ["--pooling", "mean", *STATE_POOLINGS, "--augmented-sample", "0", "--metric-sample", "64"]
    proc = run_command("rwkv-mteb", *sweep, "--output-folder", str(tmp_path / "sweep"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def scores(folder):
        return {
            variant_of(p): json.loads(p.read_text())["scores"]["validation"][0]["main_score"]
            for p in result_files(folder, task)
        }

    swept = scores(tmp_path / "sweep")
    assert len(swept) == 8 and len(set(swept.values())) == 8
    name = f"{model} (layer=3, pooling=wkv_state)"
    proc = run_command("mteb", "run", "-m", name, "-t", task, "--eval-splits", "validation",
                       "--output-folder", str(tmp_path / "alone"), "-v", "0",
                       env=cli_env(**{**env, "RWKV_MTEB_VECTOR_CACHE": "0"}))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ((folder, score),) = scores(tmp_path / "alone").items()
    assert score == pytest.approx(swept[folder], abs=1e-6)


def test_the_sketch_is_part_of_the_cache_key(tiny):
    """Vectors of another sketch width or seed are other vectors: the cache's method string names both."""
    backbone, _ = tiny
    sketched = LayerwiseEncoder(backbone, [2], "wkv_state", cache=False)
    assert sketched.method() == f"wkv_state[sketch={SKETCH},seed=0]"
    assert sketched.view([2], "wkv_state_full").method() == "wkv_state_full"
    assert sketched.view([2], "mean", prompt="eol").method().startswith("mean|prompt=")

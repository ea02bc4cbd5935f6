"""What the GPU path relies on, checked on the CPU: half-precision weights with float32 state and vectors, chunked
long inputs and padding-free batches in bf16, and the GPU benchmark script itself (run at a tiny shape)."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rwkv_mteb.backbones import NativeRwkv
from rwkv_mteb.rwkv.checkpoint import make_checkpoint
from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=["rwkv6", "rwkv7"])
def checkpoint(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "rwkv6":
        return make_checkpoint(folder / "m", layers=2, hidden=128, vocab=256, seed=2)
    return make_checkpoint(folder / "m", layers=2, hidden=128, vocab=256, seed=2, arch="rwkv7")


def ids(lengths: list[int]) -> list[list[int]]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(1, 256, (n,), generator=generator).tolist() for n in lengths]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_weights_keep_float32_state_and_vectors(checkpoint, dtype):
    full = NativeRwkv(checkpoint)
    half = NativeRwkv(checkpoint, dtype=dtype)
    assert half.dtype == dtype
    state = half.model.initial_state(2)
    assert all(layer[1].dtype == torch.float32 for layer in state)  # the WKV state
    batch = ids([5, 17, 40])
    layers = list(range(half.num_hidden_states))
    got = half.pooled(batch, layers, "mean")
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    want = full.pooled(batch, layers, "mean")
    cos = torch.nn.functional.cosine_similarity(got.flatten(1), want.flatten(1), dim=1)
    assert (cos > 0.999).all(), cos


def test_bf16_long_inputs_in_chunks_and_padding_free_batches(checkpoint):
    half = NativeRwkv(checkpoint, dtype="bfloat16")
    batch = ids([300, 7, 120, 1])
    layers = list(range(half.num_hidden_states))
    half.segment_overhead, half.chunk_tokens = math.inf, 10_000
    one_pass = half.pooled(batch, layers, "mean")
    half.segment_overhead, half.chunk_tokens = 0, 64  # rows leave the batch, long rows run in pieces of 64
    torch.testing.assert_close(half.pooled(batch, layers, "mean"), one_pass, atol=2e-2, rtol=2e-2)


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_the_cpu_at_a_tiny_shape(tmp_path, shared_data):
    bench = tmp_path / "benchmarks"
    shutil.copytree(ROOT / "benchmarks", bench, ignore=shutil.ignore_patterns("results"))
    args = ["--device", "cpu", "--blocks", "1", "--hidden", "128", "--sentences", "64", "--batch-size", "16"]
    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data))
    done = subprocess.run([sys.executable, "cuda_1b6.py", *args], capture_output=True, text=True, cwd=bench, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads((bench / "results" / "cuda_1b6_cpu_dry_run.json").read_text())
    assert figures["dtype"] == "bfloat16" and figures["state_dtype"] == "torch.float32"
    assert figures["vector_dtype"] == "torch.float32" and figures["pairs"] == 32
    for key in ("seconds_per_pair", "tokens_per_second", "gemm_flops_same_run", "ratio_to_gemm"):
        assert figures[key] > 0

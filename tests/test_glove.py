"""The GloVe averaging encoder: the paper's recipe, its published number, and edge cases."""

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from rwkv_mteb.models.glove import build_glove_model, packaged_glove_50d, read_glove_text


@pytest.fixture(scope="module")
def glove():
    words, vectors = packaged_glove_50d()
    return words, vectors, build_glove_model(words, vectors)


def reference_mean(words, vectors, sentence):
    """The recipe written out: lowercase, whitespace split, unknown words count as zero vectors."""
    index = {w: i for i, w in enumerate(words)}
    tokens = sentence.lower().split()
    rows = [vectors[index[t]] if t in index else np.zeros(vectors.shape[1]) for t in tokens]
    return np.mean(rows, axis=0) if rows else np.zeros(vectors.shape[1])


def test_vocabulary_is_glove_6b(glove):
    words, vectors, _ = glove
    assert vectors.shape == (400_000, 50) and len(words) == 400_000
    assert words[:3] == ["the", ",", "."]


def test_matches_the_recipe(glove):
    words, vectors, model = glove
    sentences = ["The Company 's chief QZXWV said", "Hello\tworld  again", "naïve café résumé"]
    got = model.encode(sentences, convert_to_numpy=True)
    for sentence, vector in zip(sentences, got, strict=True):
        np.testing.assert_allclose(vector, reference_mean(words, vectors, sentence), rtol=1e-5, atol=1e-6)


def test_unknown_words_count_in_the_mean(glove):
    _, _, model = glove
    one, two = model.encode(["cat", "cat qqqzzzxxx"], convert_to_numpy=True)
    np.testing.assert_allclose(two, one / 2, rtol=1e-6)


def test_no_nan_for_empty_or_unknown_sentences(glove):
    _, _, model = glove
    vectors = model.encode(["", "   ", "qqqzzzxxx zzzqqq", "cat"], convert_to_numpy=True)
    assert np.isfinite(vectors).all()
    assert not vectors[:3].any()
    sims = model.similarity_pairwise(vectors[:3], vectors[1:4]).numpy()
    assert np.isfinite(sims).all()


def test_save_and_reload(glove, tmp_path):
    _, _, model = glove
    model.save(str(tmp_path / "glove"))
    assert (tmp_path / "glove" / "modules.json").is_file()
    again = SentenceTransformer(str(tmp_path / "glove"), device="cpu", trust_remote_code=True)
    sentences = ["A man is playing a flute .", "unknownword"]
    np.testing.assert_array_equal(model.encode(sentences), again.encode(sentences))


def test_other_sizes_from_a_glove_text_file(tmp_path):
    path = tmp_path / "glove.6B.3d.txt"
    path.write_text("the 1 2 3\ncat 0.5 0 -1\n")
    words, vectors = read_glove_text(path)
    model = build_glove_model(words, vectors)
    np.testing.assert_allclose(model.encode(["The CAT dog"])[0], [1.5 / 3, 2 / 3, 2 / 3], rtol=1e-6)


def test_truncated_glove_text_file(tmp_path):
    from rwkv_mteb.errors import ModelUnavailableError

    path = tmp_path / "glove.txt"
    path.write_text("the 1 2 3\ncat 0.5 0\n")
    with pytest.raises(ModelUnavailableError, match="line 2: 2 numbers"):
        read_glove_text(path)


def test_paper_validation_spearman_through_mteb(data_env, registered):
    """The seed paper's GloVe baseline on MRPC validation: Spearman 0.4326."""
    import mteb

    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation"])
    result = mteb.evaluate(mteb.get_model("stanfordnlp/glove.6B.50d"), task, cache=None, show_progress_bar=False)
    score = result.task_results[0].scores["validation"][0]["cosine_spearman"]
    assert round(score, 4) == 0.4326

"""Zero-shot methods pin their token positions: echo pools only the second copy, eol the last token, a template's
instruction is context; weighted mean weighs the i-th pooled token by i. Checked against hidden states computed
by hand from the model's own forward pass, for RWKV-6 (padding-free segments) and a transformers model."""

import numpy as np
import pytest

from rwkv_mteb.backbones import NativeRwkv, TransformersModel
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.layerwise.prompts import BUILTIN_PROMPTS, Prompt
from rwkv_mteb.layerwise.session import SweepSession
from rwkv_mteb.rwkv.tokenization_rwkv import ByteTokenizer

TEXTS = ["A plane is taking off.", "Amrozi accused his brother.", "x", ""]


@pytest.fixture(scope="module")
def rwkv(small_rwkv):
    return NativeRwkv(small_rwkv)


@pytest.fixture(scope="module")
def llama(tiny_llama):
    return TransformersModel(tiny_llama, local_only=True)  # no tokenizer files, 256 ids: bytes


def test_parse_builtins_templates_and_errors():
    assert Prompt.of(None).is_none and Prompt.of("none").is_none and Prompt.of("{text}").is_none
    assert Prompt.of("eol").template == BUILTIN_PROMPTS["eol"] and Prompt.of(BUILTIN_PROMPTS["echo"]).name == "echo"
    custom = Prompt.of("Summarize: {text} in short")
    assert custom.name.startswith("tpl-") and custom.name == Prompt.of("Summarize: {text} in short").name
    assert Prompt.of("none").method("mean") == "mean"  # caches from before prompts stay valid
    assert Prompt.of("eol").method("last") != Prompt.of("echo").method("last")
    with pytest.raises(ValueError, match=r"put \{text\} where the sentence goes"):
        Prompt.of("no placeholder")


def test_a_one_side_method_prompts_that_side_only(rwkv):
    """``eol@query``: what sentence-transformers' encode_query gives is PromptEOL's vector, what encode_document
    and plain encode give is the unprompted one; the name, the saved spec and the error of an empty side."""
    sided = Prompt.of("eol@query")
    assert (sided.name, sided.side, sided.template) == ("eol@query", "query", BUILTIN_PROMPTS["eol"])
    assert Prompt.of(sided.spec) == sided and Prompt.of("Ask: {text}@document").name.endswith("@document")
    assert sided.for_side("query") == Prompt.of("eol") and sided.for_side("document").is_none
    assert sided.for_side(None).is_none and Prompt.of("eol").for_side("document") == Prompt.of("eol")
    with pytest.raises(ValueError, match="prompts nothing: put a method before @query"):
        Prompt.of("none@query")
    model = LayerwiseEncoder(rwkv, [2], cache=False, prompt="eol@query").as_model()
    eol = LayerwiseEncoder(rwkv, [2], cache=False, prompt="eol").as_model()
    plain = LayerwiseEncoder(rwkv, [2], cache=False).as_model()
    texts = TEXTS[:2]
    np.testing.assert_array_equal(model.encode_query(texts), eol.encode(texts))
    np.testing.assert_array_equal(model.encode_document(texts), plain.encode(texts))
    np.testing.assert_array_equal(model.encode(texts), plain.encode(texts))
    assert not np.allclose(model.encode_query(texts), model.encode_document(texts))


def test_token_positions_of_each_method():
    tok = ByteTokenizer()
    text = "hi there"
    ids, starts = Prompt.of("echo").encode(tok, [text])
    first, second = BUILTIN_PROMPTS["echo"].split("{text}")[:2]
    assert bytes(ids[0]).decode() == first + text + second + text
    assert starts == [len(first + text + second)]  # the second copy's first token
    assert bytes(ids[0][starts[0] :]).decode() == text
    ids, starts = Prompt.of("eol").encode(tok, [text])
    assert bytes(ids[0]).decode() == f'This sentence : "{text}" means in one word:"'
    assert bytes(ids[0][starts[0] :]).decode() == f'{text}" means in one word:"'  # the last token is '"'
    ids, starts = Prompt.of("Query: {text}").encode(tok, [text])
    assert starts == [len("Query: ")]
    ids, starts = Prompt.of("echo").encode(tok, [""])  # an empty text: the final token is pooled
    assert starts == [len(ids[0]) - 1]


def hidden_by_hand(backbone, ids, layer):
    """(T, C) hidden states of one text at ``layer``, from the backbone's own one-text forward."""
    return backbone.token_states(ids, [layer])[0]


@pytest.mark.parametrize("which", ["rwkv", "llama"])
@pytest.mark.parametrize(
    ("prompt", "pooling"), [("echo", "mean"), ("echo", "last"), ("eol", "last"), ("none", "weighted_mean"),
                            ("Query: {text}", "mean"), ("echo", "first_last")],
)  # fmt: skip
def test_pooled_vectors_cover_exactly_the_span(which, prompt, pooling, request):
    backbone = request.getfixturevalue(which)
    layer = 2
    encoder = LayerwiseEncoder(backbone, [layer], pooling=pooling, cache=False, prompt=prompt)
    got = encoder.pooled_layers(TEXTS)[:, 0]
    ids, starts = encoder.encode_texts(TEXTS)
    for row, (seq, start) in enumerate(zip(ids, starts, strict=True)):
        span = hidden_by_hand(backbone, seq, layer)[start:]
        if pooling == "mean":
            want = span.mean(0)
        elif pooling == "last":
            want = span[-1]
        elif pooling == "first_last":
            want = (span[0] + span[-1]) / 2
        else:
            weights = np.arange(1, len(span) + 1, dtype=np.float64)
            want = (span * weights[:, None]).sum(0) / weights.sum()
        np.testing.assert_allclose(got[row], want, atol=2e-5, rtol=2e-5)


def test_one_pass_stores_every_pooling_under_its_own_key(rwkv, tmp_path):
    from rwkv_mteb.cache.store import VectorCache

    cache = VectorCache(tmp_path / "v.sqlite")
    session = SweepSession(poolings=("mean", "weighted_mean", "last"))
    encoder = LayerwiseEncoder(rwkv, [1, 3], pooling="mean", cache=cache, prompt="echo", session=session)
    alone = {
        p: LayerwiseEncoder(rwkv, [1, 3], pooling=p, cache=False, prompt="echo").pooled_layers(TEXTS)
        for p in ("weighted_mean", "last")
    }
    calls = []
    original = rwkv.pooled_many
    rwkv.pooled_many = lambda *a, **k: calls.append(a[2]) or original(*a, **k)
    try:
        encoder.pooled_layers(TEXTS)
        for pooling in ("weighted_mean", "last"):
            served = encoder.view([1, 3], pooling).pooled_layers(TEXTS)
            np.testing.assert_allclose(served, alone[pooling], atol=1e-6)
    finally:
        del rwkv.pooled_many
    assert calls == [("mean", "weighted_mean", "last")]  # one forward pass for the three
    methods = {row[0] for row in cache._db.execute("SELECT DISTINCT method FROM vectors")}
    assert methods == {Prompt.of("echo").method(p) for p in ("mean", "weighted_mean", "last")}
    # the plain text is another key: a prompt never serves a no-prompt request
    plain = encoder.view([1, 3], "mean", prompt="none").pooled_layers(TEXTS)
    assert not np.allclose(plain, encoder.pooled_layers(TEXTS))


def test_a_sweeps_memo_serves_the_cached_rows_and_stays_bounded(rwkv, tmp_path):
    from rwkv_mteb.cache.memo import Memo
    from rwkv_mteb.cache.store import VectorCache

    session = SweepSession(memo=Memo())
    encoder = LayerwiseEncoder(rwkv, [0, 3], cache=VectorCache(tmp_path / "v.sqlite"), session=session)
    first = encoder.pooled_layers(TEXTS)
    assert len(session.memo.rows) == len(TEXTS)  # every computed layer (0..3) of every text
    asked = []
    original = encoder.cache.get
    encoder.cache.get = lambda keys, layers: asked.extend(keys) or original(keys, layers)
    served = encoder.view([2]).pooled_layers(TEXTS)
    assert asked == []  # from memory: no row read back from disk
    np.testing.assert_allclose(served, LayerwiseEncoder(rwkv, [2], cache=False).pooled_layers(TEXTS), atol=1e-6)
    np.testing.assert_array_equal(encoder.pooled_layers(TEXTS), first)
    small = Memo(max_bytes=4 * 8 * 4 + 1)  # room for one row of 4 layers x 8 floats, not two
    small.put({"a": np.zeros((4, 8), np.float32), "b": np.zeros((4, 8), np.float32)}, [0, 1, 2, 3])
    assert len(small.rows) == 1 and small.get(["a", "b"], [1]).keys() == {"a"}
    assert small.get(["a"], [5]) == {}  # a layer the row lacks: not served from memory

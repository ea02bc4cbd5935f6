"""The RWKV World tokenizer: the documented reference ids, and agreement with BlinkDL's own tokenizer."""

import csv
from pathlib import Path

from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer


def test_reference_ids():
    assert WorldTokenizer()(["def fibonacci(n):\n    "]) == [[7334, 21676, 41943, 41, 111, 501, 28352]]


def test_agrees_with_blinkdl_tokenizer_on_mrpc(shared_data):
    import rwkv
    from rwkv.rwkv_tokenizer import TRIE_TOKENIZER

    with (shared_data / "mrpc" / "validation.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    texts = [r[3] for r in rows] + [r[4] for r in rows] + ["naïve café 😀 世界", "  spaced  out  "]
    reference = TRIE_TOKENIZER(str(Path(rwkv.__file__).parent / "rwkv_vocab_v20230424.txt"))
    assert WorldTokenizer()(texts) == [reference.encode(t) for t in texts]


def test_empty_text_is_the_end_of_text_token():
    assert WorldTokenizer()(["", "a"]) == [[0], WorldTokenizer()(["a"])[0]]

"""Retrieval and Reranking task files: the generated long-context suite (deterministic, checksummed, targets
where declared), strict reading of a split folder, MTEB's scores derived again by hand, and a sweep over both
task types equal to separate `mteb run`s of its variants."""

import hashlib
import json
import re

import numpy as np
import pytest

from rwkv_mteb.errors import DataError, TaskDefinitionError
from rwkv_mteb.rwkv.tokenization_rwkv import WorldTokenizer
from rwkv_mteb.tasks.generators import split_files, write_files
from rwkv_mteb.tasks.retrieval_files import read_retrieval_split
from rwkv_mteb.tasks.spec import builtin_task_dir, parse_task_file
from tests.conftest import cli_env, result_files, run, variant_of

LONG = ["LongPasskeyRetrieval", "LongNeedleRetrieval", "LongNeedleReranking"]


def spec_of(name):
    return parse_task_file(builtin_task_dir() / f"{name}.toml")


@pytest.fixture(scope="module")
def generated(shared_data):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
        yield {name: split_files(spec_of(name)) for name in LONG}


@pytest.mark.parametrize("name", LONG)
def test_generation_is_byte_identical_and_matches_the_task_files_checksums(name, generated, tmp_path):
    spec = spec_of(name)
    first, second = write_files(spec, tmp_path / "a"), write_files(spec, tmp_path / "b")
    assert first == second
    for split, files in generated[name].items():
        for file, text in files.items():
            assert (tmp_path / "a" / split / f"{file}.tsv").read_bytes() == text.encode()
            if file != "documents":  # documents.tsv describes the split; the task reads the other files
                assert hashlib.sha256(text.encode()).hexdigest() == spec.splits[split].files[file], (split, file)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["sha256"] == first and manifest["generated"]["seed"] == spec.generated.seed


def _rows(text):
    return [line.split("\t") for line in text.splitlines()[1:]]


@pytest.mark.parametrize("name", ["LongPasskeyRetrieval", "LongNeedleRetrieval"])
def test_every_target_is_in_exactly_its_document_at_its_depth(name, generated):
    spec = spec_of(name)
    tokenizer = WorldTokenizer()
    for split, files in generated[name].items():
        length = int(split.removeprefix("test_"))
        corpus = dict(_rows(files["corpus"]))
        queries = dict(_rows(files["queries"]))
        qrels = {q: d for q, d, _ in _rows(files["qrels"])}
        documents = {row[0]: row for row in _rows(files["documents"])}
        assert len(corpus) == len(queries) == spec.generated.documents
        for query_id, doc_id in qrels.items():
            _, tokens, depth, measured, key = documents[doc_id]
            holding = [d for d, text in corpus.items() if key in text]
            assert holding == [doc_id], (split, key)
            target = key
            if name == "LongPasskeyRetrieval":
                person = re.fullmatch(r"What is the pass key for (.+)\?", queries[query_id]).group(1)
                assert [d for d, text in corpus.items() if person in text] == [doc_id]
                target = f"The pass key for {person} is {key}. Remember it. {key} is the pass key for {person}."
            assert corpus[doc_id].count(target) == 1
            ids = tokenizer.plain([corpus[doc_id]])[0]
            assert len(ids) == int(tokens) <= length
            assert int(tokens) > length * 0.75  # filled, not a short document under a long label
            # the target starts at a sentence boundary near the declared depth (within about one filler
            # sentence of it), counted again here from the text
            before, after = (len(tokenizer.plain([part.strip()])[0]) for part in corpus[doc_id].split(target))
            at = before / (before + after)
            assert at == pytest.approx(float(measured), abs=1e-4)
            assert abs(at - float(depth)) <= 80 / length + 0.01, (split, doc_id)
        assert sorted({float(r[2]) for r in documents.values()}) == spec.generated.depths


def test_reranking_candidates_hold_the_relevant_document(generated):
    spec = spec_of("LongNeedleReranking")
    needle = generated["LongNeedleRetrieval"]
    for split, files in generated["LongNeedleReranking"].items():
        assert files["corpus"] == needle[split]["corpus"] and files["queries"] == needle[split]["queries"]
        qrels = {q: d for q, d, _ in _rows(files["qrels"])}
        for query_id, ids in _rows(files["top_ranked"]):
            candidates = ids.split(" ")
            assert len(set(candidates)) == len(candidates) == spec.generated.candidates
            assert qrels[query_id] in candidates


TASK_FILE = """name = "TinyRetrieval"
type = "{type}"
description = "a test task"
[local]
folder = "tiny"
[splits.test]
files = {{ {files} }}
"""
FILES = {
    "corpus": "id\ttext\nd1\tthe cat sat\nd2\ta dog ran\n",
    "queries": "id\ttext\nq1\twhere is the cat\n",
    "qrels": "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
    "top_ranked": "query-id\tcorpus-ids\nq1\td2 d1\n",
}


ZERO = "0" * 64


def tiny_task(tmp_path, kind="Retrieval", **changes):
    files = {**FILES, **changes}
    names = ["corpus", "queries", "qrels"] + (["top_ranked"] if kind == "Reranking" else [])
    folder = tmp_path / "tiny" / "test"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.tsv").write_text(files[name])
    digests = ", ".join(f'{n} = "{hashlib.sha256(files[n].encode()).hexdigest()}"' for n in names)
    (tmp_path / "tiny.toml").write_text(TASK_FILE.format(type=kind, files=digests))
    spec = parse_task_file(tmp_path / "tiny.toml")
    return spec, folder


def test_a_valid_split_folder_reads_as_mteb_retrieval_data(tmp_path):
    spec, folder = tiny_task(tmp_path, "Reranking")
    data = read_retrieval_split(spec, spec.splits["test"], folder)
    assert data["corpus"]["id"] == ["d1", "d2"] and data["queries"]["text"] == ["where is the cat"]
    assert data["relevant_docs"] == {"q1": {"d1": 1}} and data["top_ranked"] == {"q1": ["d2", "d1"]}


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        ("Retrieval", {"qrels": "query-id\tcorpus-id\tscore\nq1\td9\t1\n"}, "id 'd9' is not in this split's corpus"),
        ("Retrieval", {"qrels": "query-id\tcorpus-id\tscore\nq7\td1\t1\n"}, "id 'q7' is not in this split's queries"),
        ("Retrieval", {"corpus": "id\ttext\n"}, "has a header but no rows"),
        ("Retrieval", {"corpus": "id\ttext\nd1\tx\nd1\ty\n"}, "id 'd1' appears twice"),
        ("Retrieval", {"qrels": "query-id\tcorpus-id\tscore\nq1\td1\t0\n"}, "have no relevant document"),
        ("Retrieval", {"qrels": "query-id\tcorpus-id\tscore\nq1\td1\thigh\n"}, "is not an integer >= 0"),
        ("Retrieval", {"queries": "qid\ttext\nq1\tx\n"}, "it must be ['id', 'text']"),
        ("Reranking", {"top_ranked": "query-id\tcorpus-ids\nq1\td1 d5\n"}, "id 'd5' is not in this split's corpus"),
    ],
)
def test_an_inconsistent_split_is_a_named_error(tmp_path, kind, changes, message):
    spec, folder = tiny_task(tmp_path, kind, **changes)
    with pytest.raises(DataError, match=re.escape(message)):
        read_retrieval_split(spec, spec.splits["test"], folder)


def test_a_changed_file_fails_its_checksum(tmp_path):
    spec, folder = tiny_task(tmp_path)
    (folder / "corpus.tsv").write_text(FILES["corpus"].replace("cat", "cot"))
    with pytest.raises(DataError, match="has sha256 .* expects"):
        read_retrieval_split(spec, spec.splits["test"], folder)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TASK_FILE.format(type="Reranking", files=", ".join(f'{f} = "{ZERO}"' for f in ("corpus", "queries", "qrels"))),
         "needs files = { corpus, qrels, queries, top_ranked }"),
        (TASK_FILE.format(type="Retrieval", files=f'corpus = "{ZERO}"') + '[local.columns]\ntext = "t"\n',
         "drop columns"),
        (TASK_FILE.format(type="Retrieval", files=f'corpus = "{ZERO}", qrel = "x"'), "'files' names ['qrel']"),
    ],
)  # fmt: skip
def test_a_malformed_retrieval_task_file_is_refused(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(TaskDefinitionError, match=re.escape(message)):
        parse_task_file(tmp_path / "bad.toml")


def _ndcg_at_1_by_hand(corpus, queries, qrels, embed):
    """nDCG@1 with one relevant document per query: the fraction whose own document has the top cosine."""
    doc_ids, docs = zip(*corpus.items(), strict=True)
    d = embed(list(docs))
    d = d / np.linalg.norm(d, axis=1, keepdims=True).clip(1e-12)
    hits = []
    for query_id, text in queries.items():
        q = embed([text])[0]
        hits.append(doc_ids[int(np.argmax(d @ (q / max(np.linalg.norm(q), 1e-12))))] == qrels[query_id])
    return float(np.mean(hits))


@pytest.mark.slow
@pytest.mark.usefixtures("registered")
def test_mteb_scores_a_generated_task_as_counted_by_hand(generated, shared_data, tmp_path, monkeypatch):
    import mteb

    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    model = mteb.get_model("sentence-transformers/all-MiniLM-L6-v2")
    task = mteb.get_task("LongNeedleRetrieval", eval_splits=["test_256", "test_1024"])
    result = mteb.evaluate(model, [task], cache=None, show_progress_bar=False)[0]
    st = model.model
    for split in ("test_256", "test_1024"):
        files = generated["LongNeedleRetrieval"][split]
        by_hand = _ndcg_at_1_by_hand(
            dict(_rows(files["corpus"])), dict(_rows(files["queries"])), {q: d for q, d, _ in _rows(files["qrels"])},
            lambda texts: st.encode(texts, convert_to_numpy=True),
        )  # fmt: skip
        assert result.scores[split][0]["main_score"] == pytest.approx(by_hand, abs=1e-9)


def main_scores(folder, task):
    return {
        variant_of(path): {s: rows[0]["main_score"] for s, rows in json.loads(path.read_text())["scores"].items()}
        for path in result_files(folder, task)
    }


@pytest.mark.slow
@pytest.mark.usefixtures("registered")
def test_a_sweep_over_retrieval_and_reranking_equals_separate_runs(small_rwkv, shared_data, generated, tmp_path):
    """With a one-side prompt as well: ``eol@query`` prompts exactly the queries (the cache holds PromptEOL vectors
    of the query texts and of nothing else) and scores as `mteb run` of that variant does."""
    import sqlite3

    from rwkv_mteb.cache.schema import key
    from rwkv_mteb.layerwise.prompts import Prompt

    model, tasks, splits = "RWKV/v6-Finch-1B6-HF", ["LongPasskeyRetrieval", "LongNeedleReranking"], ["test_256"]
    env = cli_env(
        HF_HUB_OFFLINE="1",
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_MODEL_PATHS=f"{model}={small_rwkv}",
        RWKV_MTEB_CACHE_DIR=str(tmp_path / "cache"),
    )
    command = ["sweep", "-m", model, "-t", *tasks, "--eval-splits", *splits, "--layers", "0", "2"]
    command += ["--prompt", "none", "eol@query"]
    proc = run("rwkv-mteb", *command, "--augmented-sample", "0", "--output-folder", str(tmp_path / "sweep"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fresh = cli_env(**{**env, "RWKV_MTEB_VECTOR_CACHE": "0"})
    variants = [f"{model} (layer=0)", f"{model} (layer=2, prompt=eol@query)"]
    for variant in variants:
        proc = run("mteb", "run", "-m", variant, "-t", *tasks, "--eval-splits", *splits,
                   "--output-folder", str(tmp_path / "alone"), "-v", "0", env=fresh)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    for task in tasks:
        swept, alone = main_scores(tmp_path / "sweep", task), main_scores(tmp_path / "alone", task)
        assert set(swept) == {f"{model} (layer={k}{p})" for k in (0, 2) for p in ("", ", prompt=eol@query")}
        assert set(alone) == set(variants)
        for variant, scores in alone.items():
            assert scores["test_256"] == pytest.approx(swept[variant]["test_256"], abs=1e-6), (task, variant)

    eol = Prompt.of("eol").method("mean")
    queries = {t for name in tasks for t in dict(_rows(generated[name]["test_256"]["queries"])).values()}
    documents = {t for name in tasks for t in dict(_rows(generated[name]["test_256"]["corpus"])).values()}
    (cache_file,) = (tmp_path / "cache" / "vectors").glob("*.sqlite")
    with sqlite3.connect(cache_file) as db:
        prompted = {row[0] for row in db.execute("SELECT key FROM vectors WHERE method = ?", (eol,))}
        plain = {row[0] for row in db.execute("SELECT key FROM vectors WHERE method = 'mean'")}
    assert prompted == {key(eol, t) for t in queries}
    assert {key("mean", t) for t in documents | queries} == plain  # the none pass: both sides, unprompted


def test_a_hub_retrieval_task_without_a_data_folder_goes_through_mteb_s_own_loader(tmp_path, monkeypatch):
    """The hub path, offline: MTEB's RetrievalDatasetLoader is asked for the pinned repository and revision."""
    import mteb.abstasks.retrieval as retrieval

    from rwkv_mteb.tasks.factory import make_task_class

    spec, _ = tiny_task(tmp_path)
    text = (tmp_path / "tiny.toml").read_text() + '[hub]\npath = "org/tiny-retrieval"\nrevision = "0123456789abcdef"\n'
    (tmp_path / "tiny.toml").write_text(text)
    spec = parse_task_file(tmp_path / "tiny.toml")
    asked = []

    class Loader:
        def __init__(self, **kwargs):
            asked.append(kwargs)

        def load(self, num_proc=None):
            return read_retrieval_split(spec, spec.splits["test"], tmp_path / "tiny" / "test")

    monkeypatch.delenv("RWKV_MTEB_DATA_DIR", raising=False)
    monkeypatch.setattr(retrieval, "RetrievalDatasetLoader", Loader)
    task = make_task_class(spec)()
    task.load_data()
    assert [(a["hf_repo"], a["revision"], a["split"]) for a in asked] == [
        ("org/tiny-retrieval", "0123456789abcdef", "test")
    ]
    assert task.dataset["default"]["test"]["relevant_docs"] == {"q1": {"d1": 1}}

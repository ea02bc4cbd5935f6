"""Reading a Retrieval or Reranking split: a folder of tab-separated files in BEIR's layout, strictly.

``corpus.tsv`` (``id``, ``text``), ``queries.tsv`` (``id``, ``text``), ``qrels.tsv`` (``query-id``, ``corpus-id``,
``score``: an integer >= 0) and, for reranking, ``top_ranked.tsv`` (``query-id``, ``corpus-ids``: the query's
candidates separated by spaces). One header line, LF line ends, no quoting (a text holds no tab or LF).
What comes out is MTEB's ``RetrievalSplitData``.

A retrieval score is only as good as its judgements, so every inconsistency is a named error rather than
something MTEB would quietly drop: a checksum that differs, an empty corpus or query set, a duplicate id, a
judgement or candidate naming an id the split does not hold, a query with no relevant document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import Dataset

from rwkv_mteb.errors import DataError
from rwkv_mteb.tasks.spec import SplitSpec, TaskSpec
from rwkv_mteb.tasks.types import RETRIEVAL_FILES


def _rows(spec: TaskSpec, split: SplitSpec, folder: Path, name: str) -> tuple[Path, list[list[str]]]:
    from rwkv_mteb.tasks.data import sha256_of

    path = folder / f"{name}.tsv"
    where = f"task {spec.name}: split {split.name}: {path}"
    if not path.is_file():
        raise DataError(f"{where} does not exist; a {spec.type} split folder holds {list(split.files or ())} (.tsv)")
    expected = (split.files or {})[name]
    if (actual := sha256_of(path)) != expected:
        raise DataError(
            f"{where} has sha256 {actual}, but {spec.path.name} expects {expected}; regenerate or replace the file, "
            "or fix the task file"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 (offset {exc.start}); re-save it as UTF-8") from None
    # no quoting, so a plain split is the csv module's reading, without its 128 KiB field limit (a 32k-token
    # document is longer) and without splitlines' extra line breaks (U+2028, form feeds) inside a text
    reader = [line.split("\t") for line in text.removesuffix("\n").split("\n")] if text else []
    header = tuple(reader[0]) if reader else ()
    if header != RETRIEVAL_FILES[name]:
        raise DataError(f"{where} has header {list(header)}; it must be {list(RETRIEVAL_FILES[name])}")
    for line_no, row in enumerate(reader[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{where} line {line_no} has {len(row)} fields, the header has {len(header)}")
    if len(reader) < 2:
        raise DataError(f"{where} has a header but no rows; a {spec.type} split needs at least one")
    return path, reader[1:]


def _texts(spec: TaskSpec, split: SplitSpec, folder: Path, name: str) -> dict[str, str]:
    path, rows = _rows(spec, split, folder, name)
    out: dict[str, str] = {}
    for line_no, (doc_id, text) in enumerate(rows, start=2):
        if not doc_id.strip():
            raise DataError(f"task {spec.name}: {path} line {line_no}: the id is empty")
        if doc_id in out:
            raise DataError(f"task {spec.name}: {path} line {line_no}: id {doc_id!r} appears twice; ids are unique")
        out[doc_id] = text
    return out


def _known(spec: TaskSpec, path: Path, line_no: int, value: str, ids: dict[str, str], file: str) -> str:
    if value not in ids:
        raise DataError(
            f"task {spec.name}: {path} line {line_no}: id {value!r} is not in this split's {file}.tsv; fix the "
            f"row or add the id to {file}.tsv"
        )
    return value


def _judgements(
    spec: TaskSpec, split: SplitSpec, folder: Path, queries: dict[str, str], corpus: dict[str, str]
) -> dict[str, dict[str, int]]:
    path, rows = _rows(spec, split, folder, "qrels")
    relevant: dict[str, dict[str, int]] = {}
    for line_no, (query_id, doc_id, score) in enumerate(rows, start=2):
        _known(spec, path, line_no, query_id, queries, "queries")
        _known(spec, path, line_no, doc_id, corpus, "corpus")
        if not score.isdigit():
            raise DataError(f"task {spec.name}: {path} line {line_no}: score {score!r} is not an integer >= 0")
        if doc_id in relevant.setdefault(query_id, {}):
            raise DataError(f"task {spec.name}: {path} line {line_no}: ({query_id}, {doc_id}) is judged twice")
        relevant[query_id][doc_id] = int(score)
    unjudged = [q for q in queries if not any(s > 0 for s in relevant.get(q, {}).values())]
    if unjudged:
        raise DataError(
            f"task {spec.name}: split {split.name}: {len(unjudged)} queries have no relevant document in {path} "
            f"(first: {unjudged[0]!r}); judge them or drop them"
        )
    return relevant


def _candidates(
    spec: TaskSpec, split: SplitSpec, folder: Path, queries: dict[str, str], corpus: dict[str, str]
) -> dict[str, list[str]]:
    path, rows = _rows(spec, split, folder, "top_ranked")
    ranked: dict[str, list[str]] = {}
    for line_no, (query_id, ids) in enumerate(rows, start=2):
        _known(spec, path, line_no, query_id, queries, "queries")
        if query_id in ranked:
            raise DataError(f"task {spec.name}: {path} line {line_no}: query {query_id!r} is listed twice")
        candidates = ids.split(" ")
        ranked[query_id] = [_known(spec, path, line_no, c, corpus, "corpus") for c in candidates]
    missing = [q for q in queries if q not in ranked]
    if missing:
        raise DataError(f"task {spec.name}: {path}: {len(missing)} queries have no candidates (first: {missing[0]!r})")
    return ranked


def read_retrieval_split(spec: TaskSpec, split: SplitSpec, folder: Path) -> dict[str, Any]:
    """One split folder as MTEB's ``RetrievalSplitData`` (corpus, queries, relevant_docs, top_ranked)."""
    corpus = _texts(spec, split, folder, "corpus")
    queries = _texts(spec, split, folder, "queries")
    if split.rows is not None and len(queries) != split.rows:
        raise DataError(
            f"task {spec.name}: split {split.name} has {len(queries)} queries, {spec.path.name} expects {split.rows}"
        )
    relevant = _judgements(spec, split, folder, queries, corpus)
    ranked = _candidates(spec, split, folder, queries, corpus) if "top_ranked" in (split.files or {}) else None
    return {
        "corpus": Dataset.from_dict({"id": list(corpus), "text": list(corpus.values())}),
        "queries": Dataset.from_dict({"id": list(queries), "text": list(queries.values())}),
        "relevant_docs": relevant,
        "top_ranked": ranked,
    }


def split_folders(spec: TaskSpec) -> Path | None:
    """Where the task's split folders are: generated into the cache, or ``<data folder>/<folder>``; None when
    only the hub has them (MTEB's own retrieval loader then reads them)."""
    from rwkv_mteb.config import DATA_DIR_VAR, data_dir

    root = data_dir()
    if spec.generated is not None:
        if root is None:
            raise DataError(
                f"task {spec.name} is generated from MRPC and STS-B; set {DATA_DIR_VAR} to the folder holding "
                "mrpc/ and stsb/ (e.g. ../shared/data)"
            )
        from rwkv_mteb.tasks.generators import materialized

        return materialized(spec)
    if root is not None:
        return root / spec.local.folder
    if spec.hub is None:
        raise DataError(
            f"task {spec.name} reads local data only; set {DATA_DIR_VAR} to a folder holding "
            f"'{spec.local.folder}/<split>/corpus.tsv' (and queries, qrels)"
        )
    return None


def load_retrieval_splits(spec: TaskSpec, wanted: list[str]) -> dict[str, dict[str, Any]]:
    """MTEB's retrieval ``dataset``: the one subset ``default``, split -> RetrievalSplitData."""
    folders = split_folders(spec)
    assert folders is not None
    unknown = [s for s in wanted if s not in spec.splits]
    if unknown:
        raise DataError(f"task {spec.name} has no split(s) {unknown}; it has {list(spec.splits)}")
    return {"default": {name: read_retrieval_split(spec, spec.splits[name], folders / name) for name in wanted}}

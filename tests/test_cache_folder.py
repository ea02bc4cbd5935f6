"""The bounded, inspectable vector cache: `rwkv-mteb cache` list/inspect/remove, a size limit with least recently
used eviction across files, requested-layers-only rows, and files written by earlier versions."""

import sqlite3
import time

import numpy as np
import pytest

from rwkv_mteb.backbones import NativeRwkv
from rwkv_mteb.cache import folder as cache_folder
from rwkv_mteb.cache.schema import row_checksum
from rwkv_mteb.cache.store import VectorCache
from rwkv_mteb.cli import main
from rwkv_mteb.config import parse_size
from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder

TEXTS = ["The cat sat on the mat .", "A dog barked .", "Stocks fell sharply on Monday .", "x"]


@pytest.fixture
def cache_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("RWKV_MTEB_CACHE_MAX", raising=False)
    monkeypatch.delenv("RWKV_MTEB_CACHE_LAYERS", raising=False)
    return tmp_path / "vectors"


@pytest.fixture
def backbone(small_rwkv):
    return NativeRwkv(small_rwkv)


def uncached(backbone, layers, pooling="mean"):
    return LayerwiseEncoder(backbone, layers, pooling, cache=False).pooled_layers(TEXTS)


def test_list_inspect_and_remove(backbone, cache_env, capsys):
    LayerwiseEncoder(backbone, [2], model_id="my/rwkv").pooled_layers(TEXTS)  # mean: layers 0..2 per sentence
    LayerwiseEncoder(backbone, [1], "max", model_id="my/rwkv").pooled_layers(TEXTS[:2])
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if "my/rwkv" in line]
    assert [(r[2], r[3], r[4]) for r in rows] == [("float32", "max", "2"), ("float32", "mean", "4")]
    width = backbone.hidden_size
    assert [int(r[6].replace(",", "")) for r in rows] == [2 * 4 * width, 3 * 4 * width]  # exact float32 bytes
    assert "1 file(s), 6 sentence(s)" in out and "limit: none" in out

    (entry,) = cache_folder.list_entries(cache_env)
    assert entry.about["revision"] == backbone.revision and entry.about["source"] == str(backbone.source)
    assert main(["cache", "inspect", entry.name[:6], "--verify"]) == 0
    out = capsys.readouterr().out
    assert "verified: 6 rows, 0 failing" in out and f"revision: {backbone.revision}" in out
    with sqlite3.connect(entry.path) as db:  # one damaged row is found, read-only
        db.execute("UPDATE vectors SET data = zeroblob(length(data)) WHERE rowid = (SELECT MIN(rowid) FROM vectors)")
    assert main(["cache", "inspect", "my/rwkv", "--verify"]) == 0
    assert "verified: 6 rows, 1 failing" in capsys.readouterr().out

    assert main(["cache", "remove", "my/rwkv", "--method", "max"]) == 0
    assert [m.method for m in cache_folder.read_entry(entry.path).methods] == ["mean"]
    assert main(["cache", "remove", "nothing-like-it"]) == 2
    err = capsys.readouterr().err
    assert "no cache entry 'nothing-like-it'" in err and "cached models: my/rwkv" in err
    assert main(["cache", "remove", "--all"]) == 0
    assert cache_folder.list_entries(cache_env) == [] and not entry.path.exists()


def test_requested_layers_only(backbone, cache_env, monkeypatch):
    monkeypatch.setenv("RWKV_MTEB_CACHE_LAYERS", "requested")
    encoder = LayerwiseEncoder(backbone, [2, 0])
    np.testing.assert_allclose(encoder.pooled_layers(TEXTS), uncached(backbone, [2, 0]), atol=1e-6)
    (entry,) = cache_folder.list_entries(cache_env)
    assert entry.methods[0].bytes == len(TEXTS) * 2 * 4 * backbone.hidden_size  # layers 0 and 2 only
    want0, want1 = uncached(backbone, [0]), uncached(backbone, [1])
    calls = []
    original = backbone.pooled_many
    monkeypatch.setattr(backbone, "pooled_many", lambda *a, **k: calls.append(a[1]) or original(*a, **k))
    np.testing.assert_allclose(encoder.view([0]).pooled_layers(TEXTS), want0, atol=1e-6)
    assert calls == []  # a stored layer is served
    np.testing.assert_allclose(encoder.view([1]).pooled_layers(TEXTS), want1, atol=1e-6)
    assert calls == [[1]]  # a layer never stored is computed, alone
    monkeypatch.setenv("RWKV_MTEB_CACHE_LAYERS", "some")
    with pytest.raises(RwkvMtebError, match="RWKV_MTEB_CACHE_LAYERS='some'.*'all' or 'requested'"):
        encoder.view([3]).pooled_layers(TEXTS)


def rows_of(path):
    with sqlite3.connect(path) as db:
        return {key for (key,) in db.execute("SELECT key FROM vectors")}


def test_size_limit_evicts_the_least_recently_used_rows_of_all_files(cache_env):
    width, layers = 256, 4
    vector = np.ones((layers, width), dtype=np.float32)
    first = VectorCache(cache_env / "a.sqlite", about={"model": "a"})
    second = VectorCache(cache_env / "b.sqlite", about={"model": "b"})
    first.put({f"a{i}": vector * i for i in range(40)}, "mean")
    time.sleep(0.01)
    second.put({f"b{i}": vector * i for i in range(40)}, "mean")
    time.sleep(0.01)
    assert len(first.get([f"a{i}" for i in range(10)], [0, 3])) == 10  # a0..a9 are now the most recently used
    held = sum(e.in_use_bytes for e in cache_folder.list_entries(cache_env))
    limit = held - 30 * layers * width * 4  # room for 30 fewer rows
    evicted = cache_folder.enforce_limit(cache_env, limit)
    assert evicted >= 30
    assert sum(e.in_use_bytes for e in cache_folder.list_entries(cache_env)) <= limit
    survivors = rows_of(first.path) | rows_of(second.path)
    assert {f"a{i}" for i in range(10)} <= survivors  # used last: kept
    assert not {f"a{i}" for i in range(10, 40)} & survivors  # the oldest use: evicted first, across files
    found = second.get(sorted(survivors - {f"a{i}" for i in range(40)}), [1])
    assert all(np.all(v == int(k[1:])) for k, v in found.items())  # what is left is exact


def test_the_limit_holds_during_a_run(backbone, cache_env, monkeypatch):
    encoder = LayerwiseEncoder(backbone, [3])
    encoder.pooled_layers(TEXTS[:1])
    (entry,) = cache_folder.list_entries(cache_env)
    limit = entry.in_use_bytes + 10 * 4 * 4 * backbone.hidden_size  # about 10 more rows of 4 layers
    monkeypatch.setenv("RWKV_MTEB_CACHE_MAX", str(limit))
    bounded = LayerwiseEncoder(backbone, [3], pooling="max")  # opens the cache with the limit
    many = [f"sentence number {i} ." for i in range(60)]
    got = np.concatenate([bounded.pooled_layers(many[i : i + 8]) for i in range(0, 60, 8)])
    np.testing.assert_allclose(got, LayerwiseEncoder(backbone, [3], "max", cache=False).pooled_layers(many), atol=1e-6)
    (entry,) = cache_folder.list_entries(cache_env)
    assert entry.in_use_bytes <= limit and entry.file_bytes <= limit  # a new file gives evicted pages back
    assert 0 < entry.rows < 20


def test_sizes_are_parsed_with_a_clear_error():
    assert parse_size("20GB", "X") == 20 * 10**9 and parse_size("1.5 m", "X") == 1_500_000
    assert parse_size("4096", "X") == 4096
    with pytest.raises(RwkvMtebError, match=r"RWKV_MTEB_CACHE_MAX='lots' is not a size; write e.g."):
        parse_size("lots", "RWKV_MTEB_CACHE_MAX")
    with pytest.raises(RwkvMtebError, match="must be more than 0"):
        parse_size("0", "RWKV_MTEB_CACHE_MAX")


def test_a_file_from_an_earlier_version_is_upgraded_and_still_served(cache_env):
    cache_env.mkdir(parents=True)
    path = cache_env / "old.sqlite"
    vector = np.arange(8, dtype=np.float32).reshape(2, 4)
    data = vector.tobytes()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE vectors (key TEXT PRIMARY KEY, layers INTEGER, dim INTEGER, data BLOB, checksum TEXT)")
        db.execute("INSERT INTO vectors VALUES ('k', 2, 4, ?, ?)", (data, row_checksum("k", 2, 4, data)))
    assert cache_folder.read_entry(path).methods[0].method == "(unrecorded)"
    cache = VectorCache(path)
    np.testing.assert_array_equal(cache.get(["k"], [1])["k"], vector[[1]])
    assert not list(cache_env.glob("*.corrupt-*"))

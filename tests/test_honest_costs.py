"""Cost records say what producing the vectors cost: a sweep's variant carries the pass that made its vectors
(not the time MTEB took to read them back), a single-layer run with the cache off measures the model itself, a
cache-served run reports no speed, and the board's cost columns for sweep entries are the pass's figures."""

import json

import pytest

from rwkv_mteb.provenance.records import ProfileRecord
from tests.conftest import result_files, variant_of

pytestmark = pytest.mark.slow
BASE = "RWKV/v6-Finch-1B6-HF"


def profile_of(folder, model: str, split: str = "validation") -> ProfileRecord:
    for result in result_files(folder, "MRPCZeroShot"):
        data = json.loads((result.parent / "profiles" / result.name).read_text())
        if data["model"] == model:
            return next(ProfileRecord.model_validate(r) for r in data["records"] if r["split"] == split)
    raise AssertionError(f"no profile of {model} under {folder}")


def test_sweep_variants_carry_the_pass_and_a_single_run_its_own_rate(tmp_path, monkeypatch, data_env, registered):
    import mteb

    from rwkv_mteb.board.publish import publish
    from rwkv_mteb.runs.sweep import sweep
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    checkpoint = make_checkpoint(tmp_path / "ckpt", layers=2, hidden=256, seed=0)
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{BASE}={checkpoint}")
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    sweep(
        model=BASE, tasks=["MRPCZeroShot"], output_folder=tmp_path / "sweep", eval_splits=["validation"],
        show_progress_bar=False, augmented_sample=0, metric_sample=64,
    )  # fmt: skip
    swept = profile_of(tmp_path / "sweep", f"{BASE} (layer=2)")
    pass_ = swept.sweep_pass
    assert swept.vectors_from == {"sweep pass": swept.sentences} and swept.vector_cache_hits == swept.sentences
    assert pass_.shared_by == 3 and pass_.cached_sentences == 0 and pass_.sentences > 700  # distinct texts
    assert swept.tokens_per_second == pass_.tokens_per_second  # the pass's rate, not the read-back's
    assert swept.encode_seconds < pass_.seconds / 5  # reading back is what is fast, and it is not reported as speed

    monkeypatch.setenv("RWKV_MTEB_VECTOR_CACHE", "0")  # the seed paper's measurement: one layer, computed here
    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation"])
    model = mteb.get_model(f"{BASE} (layer=2)")
    mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path / "single"), show_progress_bar=False)
    single = profile_of(tmp_path / "single", f"{BASE} (layer=2)")
    assert single.vectors_from == {"this evaluation": single.sentences} and single.sweep_pass is None
    scores = [  # and the same score: the plain variant of a sweep is the layer run on its own
        json.loads(path.read_text())["scores"]["validation"][0]["main_score"]
        for folder in (tmp_path / "single", tmp_path / "sweep")
        for path in result_files(folder, "MRPCZeroShot")
        if variant_of(path).endswith("(layer=2)")
    ]
    assert len(scores) == 2 and scores[0] == pytest.approx(scores[1], abs=1e-6)
    # each rate is its own run's count over its own time (derived here, not compared across runs: no timing test)
    assert pass_.tokens_per_second == pytest.approx(pass_.tokens / pass_.seconds, rel=1e-6)
    assert single.tokens_per_second == pytest.approx(single.tokens / single.encode_seconds, rel=1e-6)
    assert single.tokens == swept.tokens > 0  # the same split's texts, counted by the same tokenizer

    monkeypatch.delenv("RWKV_MTEB_VECTOR_CACHE")  # a plain run whose vectors the sweep cached: no speed to report
    model = mteb.get_model(f"{BASE} (layer=1)")
    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation"])
    mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path / "served"), show_progress_bar=False)
    served = profile_of(tmp_path / "served", f"{BASE} (layer=1)")
    assert served.vectors_from == {"vector cache": served.sentences}
    assert served.tokens_per_second is None and served.seconds_per_pair is None and served.sweep_pass is None

    board = publish([tmp_path / "sweep"], tmp_path / "board", ["test"])
    entry = next(e for e in board.entries if e.model == f"{BASE} (layer=2)")
    assert entry.cost.vectors_from == "sweep pass" and entry.cost.shared_by == 3
    assert entry.cost.seconds_per_pair == pytest.approx(2 * pass_.seconds / pass_.sentences, abs=2e-6)
    assert entry.cost.tokens_per_second == pytest.approx(pass_.tokens_per_second, rel=1e-6)
    assert entry.cost.peak_rss_mb == pytest.approx(pass_.peak_rss_mb, rel=1e-6)
    every_entry = (tmp_path / "board" / "all-entries.md").read_text()
    assert "pass ÷ 3" in every_entry and "Holm-adjusted" in (tmp_path / "board" / "README.md").read_text()

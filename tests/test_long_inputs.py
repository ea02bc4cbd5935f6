"""Long inputs: truncation counted per split (a transformers backbone with 64 positions, a sentence-transformers
model with its max_seq_length), recounted here by hand; the board's mark on cut entries and its length table;
`rwkv-mteb scaling` on a random RWKV-6 and a GPT-2-shaped model."""

import json
import shutil

import pytest

from tests.conftest import cli_env, run

pytestmark = [pytest.mark.usefixtures("registered"), pytest.mark.slow]
TASK, SPLITS = "LongNeedleRetrieval", ["test_256", "test_512"]
RANKED = ["LongNeedleRetrieval", "LongNeedleReranking"]


@pytest.fixture(scope="module")
def short_llama(tmp_path_factory):
    """A random Llama with 64 positions and a byte-level vocabulary: every input's tokens are its UTF-8 bytes."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("short-llama")
    config = LlamaConfig(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=64,
    )  # fmt: skip
    LlamaModel(config).save_pretrained(folder)
    return folder


def texts_of(split):
    import mteb

    task = mteb.get_task(TASK, eval_splits=[split])
    task.load_data()
    data = task.dataset["default"][split]
    return list(data["corpus"]["text"]) + list(data["queries"]["text"])


def profile_records(folder, model=""):
    (path,) = [p for p in folder.rglob(f"profiles/{TASK}.json") if model in str(p)]
    return {r["split"]: r for r in json.loads(path.read_text())["records"]}


@pytest.fixture(scope="module")
def cut_run(short_llama, shared_data, tmp_path_factory, curves):
    """`mteb run` of the 64-position model's layer 1 over two length splits, and the board built from it with
    the scaling curves beside the results."""
    tmp = tmp_path_factory.mktemp("cut")
    model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    env = cli_env(HF_HUB_OFFLINE="1", RWKV_MTEB_DATA_DIR=str(shared_data), RWKV_MTEB_CACHE_DIR=str(tmp / "c"),
                  RWKV_MTEB_MODEL_PATHS=f"{model}={short_llama}")  # fmt: skip
    proc = run("mteb", "run", "-m", f"{model} (layer=1)", "-t", TASK, "--eval-splits", *SPLITS,
               "--output-folder", str(tmp / "out"), "-v", "0", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    # GloVe through the protocol, which saves its rankings: the board's intervals over queries
    proc = run("rwkv-mteb", "protocol", "-m", "stanfordnlp/glove.6B.50d", "-t", *RANKED, "--eval-splits", *SPLITS,
               "--output-folder", str(tmp / "out"), env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp / "out" / "scaling").mkdir()
    for _, _, _, path in curves:
        shutil.copy(path, tmp / "out" / "scaling" / path.name)
    proc = run("rwkv-mteb", "leaderboard", "--results", str(tmp / "out"), "--out", str(tmp / "board"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp


def test_a_transformers_backbone_counts_what_it_cuts(cut_run, shared_data, monkeypatch):
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(cut_run / "c"))
    records = profile_records(cut_run / "out", "SmolLM2")
    for split in SPLITS:
        lengths = [len(t.encode("utf-8")) for t in texts_of(split)]  # byte-level: one token per byte
        record = records[split]
        assert record["max_input_tokens"] == 64
        assert record["longest_input_tokens"] == max(lengths)
        assert record["truncated_inputs"] == sum(n > 64 for n in lengths)
        assert record["truncated_tokens"] == sum(n - 64 for n in lengths if n > 64)
        assert sum(b["inputs"] for b in record["by_length"]) == len(lengths)
        assert sum(b["tokens"] for b in record["by_length"]) == sum(lengths)
        # queries (short) and documents (long) are encoded in separate calls: two length buckets
        assert len(record["by_length"]) == 2


def test_the_board_marks_cut_entries_and_tabulates_lengths(cut_run):
    records = profile_records(cut_run / "out", "SmolLM2")
    board = json.loads((cut_run / "board" / "leaderboard.json").read_text())
    cut = [e for e in board["entries"] if e["layer"] is not None]
    assert {e["split"] for e in cut} == set(SPLITS)
    for entry in cut:
        record = records[entry["split"]]
        assert entry["truncation"] == {
            "inputs": record["truncated_inputs"],
            "tokens": record["truncated_tokens"],
            "max_input_tokens": 64,
            "longest_input_tokens": record["longest_input_tokens"],
        }
    readme = (cut_run / "board" / "README.md").read_text()
    table = readme[readme.index(f"### {TASK}") :]
    assert "| 256 | 512 |" in table and "(L1) ✂" in table
    assert (cut_run / "board" / "long_inputs.png").stat().st_size > 10_000


def test_the_page_marks_cut_entries(cut_run):
    _page_marks_the_cut(cut_run / "board" / "index.html", f"{TASK} / test_512")


def _page_marks_the_cut(html, group):
    from playwright.sync_api import sync_playwright

    from tests.test_leaderboard_page import chromium

    if chromium() is None:
        pytest.skip("no Chromium installed: `apt-get install chromium` (scripts/test.sh does it where it can)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(html.as_uri())
        tab.wait_for_function("window.rwkvMtebBoard !== undefined")
        tab.click(f'nav#groups button[data-group="{group}"]')
        rows = tab.eval_on_selector_all("#scores tbody tr", "rows => rows.map(r => [r.dataset.model, r.innerText])")
        browser.close()
    marked = {model: "✂" in text for model, text in rows}
    assert marked == {"HuggingFaceTB/SmolLM2-135M-Instruct (layer=1)": True, "stanfordnlp/glove.6B.50d": False}


def test_a_sentence_transformer_counts_what_its_max_seq_length_cuts(shared_data, tmp_path, monkeypatch):
    import mteb

    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "c"))
    model = mteb.get_model("sentence-transformers/all-MiniLM-L6-v2")
    cache = mteb.ResultCache(tmp_path / "out")
    mteb.evaluate(model, [mteb.get_task(TASK, eval_splits=["test_512"])], cache=cache, show_progress_bar=False)
    record = profile_records(tmp_path / "out")["test_512"]
    tokenizer, limit = model.model.tokenizer, model.model.max_seq_length
    lengths = [len(ids) for ids in tokenizer(texts_of("test_512"), verbose=False)["input_ids"]]
    assert record["max_input_tokens"] == limit == 256
    assert record["truncated_inputs"] == sum(n > limit for n in lengths) > 0
    assert record["truncated_tokens"] == sum(n - limit for n in lengths if n > limit)


SCALED = (("RWKV/v6-Finch-1B6-HF", False), ("openai-community/gpt2", True))


@pytest.fixture(scope="module")
def curves(small_rwkv, tmp_path_factory):
    """`rwkv-mteb scaling` of a random RWKV-6 and a GPT-2-shaped model with 128 positions at 64 and 256 tokens:
    (model, expected cut, stdout, curve file)."""
    import torch
    from transformers import GPT2Config, GPT2Model

    tmp = tmp_path_factory.mktemp("scaling")
    torch.manual_seed(0)
    GPT2Model(GPT2Config(n_embd=64, n_layer=2, n_head=2, n_positions=128, vocab_size=256)).save_pretrained(tmp / "gpt2")
    paths = f"RWKV/v6-Finch-1B6-HF={small_rwkv}:openai-community/gpt2={tmp / 'gpt2'}"
    env = cli_env(HF_HUB_OFFLINE="1", RWKV_MTEB_DATA_DIR="", RWKV_MTEB_MODEL_PATHS=paths)
    out = []
    for model, cut in SCALED:
        path = tmp / "scaling" / f"{model.split('/')[0]}.json"
        proc = run("rwkv-mteb", "scaling", "-m", model, "--lengths", "64", "256", "--out", str(path), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out.append((model, cut, proc.stdout, path))
    return out


def test_scaling_measures_each_length_and_reports_the_cut(curves):
    for _, cut, stdout, path in curves:
        result = json.loads(path.read_text())
        assert [p["tokens"] for p in result["points"]] == [64, 256]
        assert [p["tokens_encoded"] for p in result["points"]] == [64, 128 if cut else 256]
        assert result["points"][1]["truncated"] is cut
        for p in result["points"]:
            assert p["seconds"] > 0 and p["peak_rss_mb"] >= 0
            assert p["peak_rss_allocator"] == "glibc, mmap threshold 64 KiB"  # memory in its own process
            assert p["seconds_per_token"] == pytest.approx(p["seconds"] / p["tokens_encoded"])
        assert "µs/token" in stdout


def test_the_board_publishes_scaling_curves_as_measured(cut_run):
    board = json.loads((cut_run / "board" / "leaderboard.json").read_text())
    assert [c["model"] for c in board["scaling"]] == [m for m, _ in SCALED]
    readme = (cut_run / "board" / "README.md").read_text()
    for curve in board["scaling"]:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {curve['model']} |"))
        for p in curve["points"]:  # the table's µs per token, recomputed from seconds and tokens read
            assert f"{1e6 * p['seconds'] / p['tokens_encoded']:.0f} µs, +{p['peak_rss_mb']:.0f} MB" in row
        assert row.count("✂") == sum(p["truncated"] for p in curve["points"])


def test_retrieval_intervals_are_over_queries(cut_run, shared_data, monkeypatch):
    """Per query, recounted by hand from the saved rankings: nDCG@1 is a hit at rank 1, MAP with one relevant
    document its reciprocal rank; their mean is the result file's score, the interval a bootstrap over queries."""
    import mteb
    import numpy as np
    from scipy import stats as scipy_stats

    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(cut_run / "c"))
    board = json.loads((cut_run / "board" / "leaderboard.json").read_text())
    assert not [w for w in board["warnings"] if "no interval" in w]
    for task in RANKED:
        task_obj = mteb.get_task(task, eval_splits=SPLITS)
        task_obj.load_data()
        (path,) = (cut_run / "out" / "predictions").rglob(f"{task}_predictions.json")
        rankings = json.loads(path.read_text())["default"]
        for split in SPLITS:
            relevant = {q: next(iter(d)) for q, d in task_obj.dataset["default"][split]["relevant_docs"].items()}
            values = []
            for query, scores in sorted(rankings[split].items()):
                rank = sorted(scores, key=lambda d: -scores[d]).index(relevant[query]) + 1
                values.append(1.0 / rank if task.endswith("Reranking") else float(rank == 1))
            values = np.array(values)
            (entry,) = [e for e in board["entries"] if (e["task"], e["split"], e["layer"]) == (task, split, None)]
            assert entry["n_queries"] == 10
            assert entry["main_score"] == pytest.approx(values.mean(), abs=1e-4)
            if np.ptp(values) == 0:
                assert entry["ci95_bootstrap"] == [values[0], values[0]]
                continue
            rng = np.random.default_rng(sum(map(ord, f"{task}/{split}")))
            resamples = board["statistics"]["bootstrap_resamples"]
            expected = scipy_stats.bootstrap((values,), np.mean, n_resamples=resamples, method="percentile", rng=rng)
            low, high = expected.confidence_interval
            assert entry["ci95_bootstrap"] == pytest.approx([low, high], abs=1e-4)


def test_the_memory_process_reads_a_known_working_set():
    """The scaling command's memory rule, checked on an allocation of known size: in a process started with
    MEMORY_ENV, a 64 MiB tensor raises the kernel's high-water mark by 64 MiB above the level before it, and
    freeing it gives the memory back (so a later, smaller run is not hidden under an earlier peak)."""
    import subprocess
    import sys

    from rwkv_mteb.runs.scaling import MEMORY_ENV

    code = (
        "import torch; from rwkv_mteb.provenance.memory import rss_mb; "
        "from rwkv_mteb.runs.scaling import _reset_peak, _peak_mb; "
        "base = rss_mb(); assert _reset_peak(); x = torch.ones(16 * 2**20); x += 1; del x; "
        "print(_peak_mb() - base, rss_mb() - base)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**cli_env(), **MEMORY_ENV}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak, after = map(float, proc.stdout.split())
    assert 64 <= peak < 72 and after < 8


def test_rounds_keep_each_length_s_fastest_time_and_highest_memory(monkeypatch, capsys):
    """`--rounds 3`: every length measured in turn three times (the processes stood in for here, each round
    its own numbers), each length's point its fastest round's time with its highest round's memory."""
    from rwkv_mteb.cli import main
    from rwkv_mteb.runs import scaling as module

    calls = []

    def fake_point(model, family, length, device, dtype):
        calls.append(length)
        r = calls.count(length)  # rounds of this length so far: 1, 2, 3
        seconds = {1: 3.0, 2: 1.0, 3: 2.0}[r] * length / 1000
        return {"tokens": length, "tokens_encoded": length, "truncated": False, "seconds": seconds,
                "seconds_per_token": seconds / length, "tokens_per_second": length / seconds, "runs": 3 + r,
                "peak_rss_mb": {1: 5.0, 2: 4.0, 3: 9.0}[r], "peak_rss_exact": True,
                "peak_rss_allocator": "glibc, mmap threshold 64 KiB", "peak_gpu_allocated_mb": None,
                "device": "cpu", "dtype": "float32", "revision": "sha256-x"}  # fmt: skip

    monkeypatch.setattr(module, "point", fake_point)
    curve = module.scaling("RWKV/v6-Finch-1B6-HF", [512, 2048], rounds=3)
    assert calls == [512, 2048] * 3  # in turn, not one length three times running
    for p, length in zip(curve.points, [512, 2048], strict=True):
        assert (p.seconds, p.runs, p.peak_rss_mb, p.rounds) == (length / 1000, 5, 9.0, 3)
    assert curve.seconds_per_token_spread == pytest.approx(0.0)
    assert curve.command.endswith("--lengths 512 2048 --rounds 3")
    assert main(["scaling", "-m", "RWKV/v6-Finch-1B6-HF", "--rounds", "0"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --rounds 0: each length must be")

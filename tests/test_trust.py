"""Numbers you can trust: every way a wrong score could once leave with exit status 0, reproduced, and refused.

Each test first builds the situation that used to go wrong (same-size weight edits, corrupt cache rows and
files, results filed by name alone, a results folder that does not exist, corrupt side files, concurrent
command logs, broken registrations) and then checks what happens now.
"""

import json
import multiprocessing
import shutil
import sqlite3

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from rwkv_mteb.errors import CorruptFileError, PublishError
from tests.conftest import cli_env, result_files, run, variant_of

pytestmark = pytest.mark.usefixtures("registered")
BASE = "RWKV/v6-Finch-1B6-HF"


# ---------------------------------------------------------------------------------------------- identity


def test_file_digest_sees_a_same_size_edit_and_is_memoised(tmp_path, monkeypatch):
    from rwkv_mteb.provenance import identity

    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\0" * (3 << 20))
    first = identity.file_digest(path)
    computed = []
    monkeypatch.setattr(identity.hashlib, "file_digest", lambda *a: computed.append(a) or pytest.fail("recomputed"))
    assert identity.file_digest(path) == first and not computed  # memoised: the file was not read again
    monkeypatch.undo()
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    with path.open("r+b") as handle:  # one byte in the middle: same size, same first and last MiB
        handle.seek(3 << 19)
        handle.write(b"\1")
    assert path.stat().st_size == 3 << 20
    assert identity.file_digest(path) != first


def tamper_weights(checkpoint):
    """Change one tensor inside model.safetensors, keeping the file's size."""
    file = checkpoint / "model.safetensors"
    size = file.stat().st_size
    state = load_file(str(file))
    state["rwkv.blocks.1.feed_forward.value.weight"] = state["rwkv.blocks.1.feed_forward.value.weight"] * -1.5
    save_file(state, str(file), metadata={"format": "pt"})
    assert file.stat().st_size == size


def validation_scores(folder, layer):
    """revision folder -> MRPC validation score of that layer variant"""
    paths = [p for p in result_files(folder, "MRPCZeroShot") if variant_of(p).endswith(f"(layer={layer})")]
    return {p.parents[2].name: json.loads(p.read_text())["scores"]["validation"][0]["main_score"] for p in paths}


def sweep_once(out, layers=(1, 2)):
    from rwkv_mteb.runs.sweep import sweep

    sweep(
        model=BASE,
        tasks=["MRPCZeroShot"],
        layers=list(layers),
        output_folder=out,
        eval_splits=["validation"],
        show_progress_bar=False,
        augmented_sample=0,
    )


def test_vector_cache_never_changes_a_score(tmp_path, monkeypatch, data_env):
    """Sweep; tamper with the weights (same size) and with a cache row; rerun: the true score every time."""
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    checkpoint = make_checkpoint(tmp_path / "ckpt", layers=2, hidden=64, seed=11)
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{BASE}={checkpoint}")
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "results"
    sweep_once(out)
    ((revision_before, before),) = validation_scores(out, 2).items()

    tamper_weights(checkpoint)
    sweep_once(out)  # same output folder, same model name: must not be skipped or served stale vectors
    runs = validation_scores(out, 2)
    assert len(runs) == 2 and runs[revision_before] == before  # filed under the new checkpoint's identity
    monkeypatch.setenv("RWKV_MTEB_VECTOR_CACHE", "0")
    sweep_once(tmp_path / "truth")
    ((revision_truth, truth),) = validation_scores(tmp_path / "truth", 2).items()
    assert runs[revision_truth] == truth != before

    # a few bytes of garbage inside one stored vector (its checksum left as it was)
    monkeypatch.setenv("RWKV_MTEB_VECTOR_CACHE", "1")
    for cache_file in (tmp_path / "cache" / "vectors").glob("*.sqlite"):
        with sqlite3.connect(cache_file) as db:
            rows = db.execute("SELECT key, data FROM vectors").fetchall()
            for key, data in rows[::2]:
                db.execute("UPDATE vectors SET data = ? WHERE key = ?", (b"\x7f\x7f\x7f\x7f" + data[4:], key))
    shutil.rmtree(out / "results")
    sweep_once(out)
    assert validation_scores(out, 2) == {revision_truth: truth}


def test_revision_of_a_local_checkpoint_is_its_content(small_rwkv, monkeypatch, tmp_path):
    import mteb

    from rwkv_mteb.provenance.identity import path_digest, revision_of

    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{BASE}={small_rwkv}")
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path))
    model = mteb.get_model(f"{BASE} (layer=1)")
    assert model.mteb_model_meta.revision.startswith("sha256-")
    assert model.mteb_model_meta.revision == model.model[0].revision
    # the registered meta stays as declared; only the loaded model carries the weights' identity
    assert mteb.get_model_meta(f"{BASE} (layer=1)").revision is None
    # a user-mapped copy of a sentence encoder is revisioned by its content too
    words = tmp_path / "glove.6B.100d.txt"
    words.write_text("the " + " ".join(["0.5"] * 100) + "\n")
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"stanfordnlp/glove.6B.100d={words}")
    assert mteb.get_model("stanfordnlp/glove.6B.100d").mteb_model_meta.revision == revision_of(path_digest(words))


# ---------------------------------------------------------------------------------------------- integrity


def test_corrupt_cache_rows_are_recomputed_not_served(tmp_path, caplog):
    from rwkv_mteb.cache.store import VectorCache

    cache = VectorCache(tmp_path / "v.sqlite")
    good = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.put({"a": good, "b": good + 1, "c": good + 2, "nan": np.full((3, 4), np.nan, dtype=np.float32)}, "mean")
    assert len(cache) == 3  # a non-finite vector is never stored
    with sqlite3.connect(tmp_path / "v.sqlite") as db:
        (data,) = db.execute("SELECT data FROM vectors WHERE key = 'b'").fetchone()
        db.execute("UPDATE vectors SET data = ? WHERE key = 'b'", (data[:8] + b"garbage!" + data[16:],))
        db.execute("UPDATE vectors SET layers = 1, dim = 12 WHERE key = 'c'")  # same bytes, another shape
    found = cache.get(["a", "b", "c"], [0, 1, 2])
    assert set(found) == {"a"} and cache.rejected_rows == 2  # the checksum covers the shape too
    np.testing.assert_array_equal(found["a"], good)
    assert "v.sqlite: 2 row(s) failed their checksum" in caplog.text
    assert len(cache) == 1  # the bad rows are gone
    assert cache.get(["c"], [0]) == {}


@pytest.mark.parametrize("damage", ["garbage header", "cut short"])
def test_corrupt_cache_file_is_moved_aside_and_rebuilt(tmp_path, caplog, damage):
    from rwkv_mteb.cache.store import VectorCache

    path = tmp_path / "v.sqlite"
    cache = VectorCache(path)
    cache.put({f"k{i}": np.full((2, 256), i, dtype=np.float32) for i in range(200)}, "mean")
    cache._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cache._db.close()
    data = path.read_bytes()
    path.write_bytes(b"this is not a database" + data[22:] if damage == "garbage header" else data[: len(data) // 3])
    again = VectorCache(path)
    found = again.get([f"k{i}" for i in range(200)], [0, 1])
    assert all(np.all(v == int(k[1:])) for k, v in found.items())  # never a wrong vector
    again.put({"new": np.ones((2, 3), dtype=np.float32)}, "mean")
    assert "new" in again.get(["new"], [0, 1])
    if damage == "garbage header":
        assert found == {}
        (aside,) = tmp_path.glob("v.sqlite.corrupt-*")
        assert aside.read_bytes().startswith(b"this is not a database")
        assert f"vector cache {path} is corrupt" in caplog.text and str(aside) in caplog.text


def test_result_file_cut_short_is_named_with_the_fix(tmp_path, data_env):
    import mteb

    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation"])
    model = mteb.get_model("stanfordnlp/glove.6B.50d")
    mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path), show_progress_bar=False)
    (path,) = result_files(tmp_path, "MRPCZeroShot")
    path.write_text(path.read_text()[:100])
    with pytest.raises(CorruptFileError, match=rf"result file {path} is corrupt .* delete it and rerun"):
        mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path), show_progress_bar=False)


def test_bad_data_cells_and_encodings_name_file_and_line(tmp_path, monkeypatch):
    from rwkv_mteb.errors import DataError
    from rwkv_mteb.tasks.data import load_splits
    from tests.test_task_data import user_spec

    for cell in ("nan", "inf", "2", "latin1"):
        (tmp_path / cell).mkdir()
    for cell, message in [("nan", "'nan', not a finite number"), ("inf", "'inf', not a finite number"), ("2", "'2'")]:
        spec = user_spec(tmp_path / cell, monkeypatch, f"gold\tleft\tright\n1\ta\tb\n{cell}\tc\td\n")
        with pytest.raises(DataError, match=rf"test\.tsv line 3: score column 'gold' holds {message}"):
            load_splits(spec)
    spec = user_spec(tmp_path / "latin1", monkeypatch, "gold\tleft\tright\n1\ta\tb\n")
    (tmp_path / "latin1" / "pairs" / "test.tsv").write_bytes(b"gold\tleft\tright\n1\ta\tb\n0\tcaf\xe9\td\n")
    with pytest.raises(DataError, match=r"test\.tsv line 3 is not UTF-8"):
        load_splits(spec)


def test_local_folder_link_out_of_the_data_folder_is_refused(tmp_path, monkeypatch):
    from rwkv_mteb.errors import DataError
    from rwkv_mteb.tasks.data import load_splits
    from tests.test_task_data import user_spec

    (tmp_path / "data").mkdir()
    spec = user_spec(tmp_path / "data", monkeypatch, "gold\tleft\tright\n1\ta\tb\n")
    outside = tmp_path / "elsewhere"
    shutil.move(tmp_path / "data" / "pairs", outside)
    (tmp_path / "data" / "pairs").symlink_to(outside)
    with pytest.raises(DataError, match="outside the data folder"):
        load_splits(spec)


def test_local_only_task_never_falls_back_to_the_hub(tmp_path, monkeypatch):
    from rwkv_mteb.errors import DataError
    from rwkv_mteb.tasks.data import load_splits
    from rwkv_mteb.tasks.spec import parse_task_file
    from tests.test_task_files import MINIMAL

    text = MINIMAL.format(name="LocalOnly")
    path = tmp_path / "LocalOnly.toml"
    path.write_text(text[: text.index("[hub]")] + text[text.index("[local]") :])
    monkeypatch.delenv("RWKV_MTEB_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(DataError, match="reads local data only .* no \\[hub\\] section"):
        load_splits(parse_task_file(path))


# ---------------------------------------------------------------------------------------------- publishing


@pytest.fixture(scope="module")
def small_results(tmp_path_factory, shared_data):
    """GloVe on MRPC (train, validation) and on STS-B test, run by two protocol commands into one folder."""
    out = tmp_path_factory.mktemp("runs")
    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data), RWKV_MTEB_CACHE_DIR=str(out / "cache"))
    for task, splits in (("MRPCZeroShot", ["train", "validation"]), ("STSBenchmarkZeroShot", ["test"])):
        args = ["protocol", "-m", "stanfordnlp/glove.6B.50d", "-t", task, "--eval-splits", *splits]
        proc = run("rwkv-mteb", *args, "--output-folder", str(out), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "MRPC" not in task or "MRPCZeroShot/validation  main score 0.4326" in proc.stdout
    return out


def publish(results, out):
    from rwkv_mteb.board.publish import publish as build

    return build(results, out, ["rwkv-mteb", "leaderboard"]).model_dump(mode="json")


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_provenance_is_the_command_of_each_task_and_split(small_results, tmp_path, data_env):
    board = publish([small_results], tmp_path / "lb")
    commands = {(e["task"], e["split"]): e["provenance"]["command"] for e in board["entries"]}
    assert set(commands) == {
        ("MRPCZeroShot", "train"),
        ("MRPCZeroShot", "validation"),
        ("STSBenchmarkZeroShot", "test"),
    }
    for (task, _split), command in commands.items():
        assert command.startswith("rwkv-mteb protocol") and f"-t {task}" in command


@pytest.mark.slow
def test_a_bad_results_folder_leaves_the_board_untouched(small_results, tmp_path, data_env):
    out = tmp_path / "lb"
    publish([small_results], out)
    before = snapshot(out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PublishError, match="does not exist"):
        publish([small_results, tmp_path / "resluts"], out)
    with pytest.raises(PublishError, match="no MTEB result files"):
        publish([tmp_path / "empty"], out)
    assert snapshot(out) == before
    proc = run("rwkv-mteb", "leaderboard", "--results", str(tmp_path / "resluts"), "--out", str(out))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: results folder") and snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lb")]  # no staging folder left behind


@pytest.mark.slow
def test_republishing_a_board_keeps_the_boards_inside_it_and_nothing_stale(small_results, tmp_path, data_env):
    out = tmp_path / "lb"
    publish([small_results], out / "trained")  # e.g. leaderboard/trained/ inside leaderboard/
    inner = snapshot(out / "trained")
    (out / "diagnostics.png").write_bytes(b"a plot of an older board")
    publish([small_results], out)
    assert snapshot(out / "trained") == inner
    assert not (out / "diagnostics.png").exists()  # no diagnostics on this board: the old plot is retired
    publish([small_results], out)  # and again, with the inner board now inside a published one
    assert snapshot(out / "trained") == inner
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lb")]


@pytest.mark.parametrize(
    "target,what",
    [
        ("model_meta.json", "model meta"),
        ("profiles/MRPCZeroShot.json", "profile"),
        ("commands.jsonl", "commands log"),
        ("diagnostics", "sweep diagnostics"),
    ],
)
@pytest.mark.slow
def test_corrupt_side_files_are_named(small_results, tmp_path, data_env, target, what):
    broken = tmp_path / "broken"
    shutil.copytree(small_results, broken)
    folder = next((broken / "results").glob("stanfordnlp__glove.6B.50d/*"))
    path = folder / target
    if target == "diagnostics":
        path = broken / "diagnostics" / "x.json"
        path.parent.mkdir()
    path.write_text('{"truncated": ')
    out = tmp_path / "lb"
    publish([small_results], out)
    before = snapshot(out)
    with pytest.raises(CorruptFileError, match=rf"{what} {path} (line 1 )?is corrupt"):
        publish([broken], out)
    assert snapshot(out) == before


def _append(args):
    from rwkv_mteb.provenance.sidecars import append_jsonl

    path, worker = args
    for i in range(100):
        append_jsonl(path, [{"worker": worker, "i": i, "pad": "x" * 5000}])


@pytest.mark.slow
def test_concurrent_command_logs_lose_nothing(tmp_path):
    path = tmp_path / "commands.jsonl"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_append, [(path, 0), (path, 1)])
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted((r["worker"], r["i"]) for r in lines) == [(w, i) for w in (0, 1) for i in range(100)]


# ---------------------------------------------------------------------------------------------- registration


@pytest.mark.slow
def test_one_broken_item_does_not_disable_the_rest(tmp_path, shared_data):
    from tests.test_task_files import MINIMAL

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "Good.toml").write_text(MINIMAL.format(name="GoodPairs"))
    (tasks / "Bad.toml").write_text(
        MINIMAL.format(name="BadPairs").replace("[splits.test]", "[splits.test]\nsha265 = 1")
    )
    env = cli_env(
        RWKV_MTEB_TASKS_DIR=str(tasks),
        RWKV_MTEB_MODEL_PATHS="no-equals-sign-here",
        RWKV_MTEB_DATA_DIR=str(shared_data),
    )
    code = (
        "import mteb; print(sorted(t.metadata.name for t in mteb.get_tasks(tasks=['GoodPairs', 'MRPCZeroShot']))); "
        "print(mteb.get_model_meta('stanfordnlp/glove.6B.50d').name)"
    )
    proc = run("python", "-c", code, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["['GoodPairs', 'MRPCZeroShot']", "stanfordnlp/glove.6B.50d"]
    reported = [line for line in proc.stderr.splitlines() if line.startswith("rwkv-mteb: ")]
    assert len(reported) == 2, proc.stderr
    assert "Bad.toml" in reported[0] and "did you mean 'sha256'" in reported[0]
    assert "RWKV_MTEB_MODEL_PATHS" in reported[1] and "no-equals-sign-here" in reported[1]


@pytest.mark.parametrize("offline", ["1", "0"])
@pytest.mark.slow
def test_unknown_model_name_is_one_line_with_close_matches(tmp_path, shared_data, offline):
    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data), HF_HUB_OFFLINE=offline, HF_HUB_ETAG_TIMEOUT="2")
    args = ["run", "-m", "stanfordnlp/glove.6B.51d", "-t", "MRPCZeroShot", "--output-folder", str(tmp_path)]
    proc = run("mteb", *args, env=env, timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "unknown model 'stanfordnlp/glove.6B.51d'" in line and "did you mean 'stanfordnlp/glove.6B.50d'" in line


def test_cli_refuses_bad_arguments_and_overwrites(tmp_path, capsys):
    from rwkv_mteb.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "-m", BASE, "--batch-size", "0"])
    assert exit_info.value.code == 2 and "0 is not a positive integer" in capsys.readouterr().err
    args = ["make-checkpoint", "--layers", "1", "--hidden", "64", "--vocab", "300", "--out", str(tmp_path / "c")]
    assert main(args) == 0
    weights = (tmp_path / "c" / "model.safetensors").read_bytes()
    assert main([*args[:-1], str(tmp_path / "c"), "--seed", "5"]) == 2
    assert "not empty; choose another --out or pass --force" in capsys.readouterr().err
    assert (tmp_path / "c" / "model.safetensors").read_bytes() == weights
    assert main([*args, "--seed", "5", "--force"]) == 0
    assert (tmp_path / "c" / "model.safetensors").read_bytes() != weights


def test_in_memory_backbone_has_a_state_dict_identity():
    from rwkv_mteb.backbones import NativeRwkv
    from rwkv_mteb.rwkv.checkpoint_rwkv6 import random_state_dict
    from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Config, Rwkv6Model

    config = Rwkv6Config(vocab_size=300, hidden_size=64, num_hidden_layers=1, attention_hidden_size=64)
    model = Rwkv6Model(config, with_head=False)
    model.load_state_dict({k: v for k, v in random_state_dict(config).items() if k != "head.weight"})
    first = NativeRwkv.from_model(model).identity
    with torch.no_grad():
        model.rwkv.ln_out.bias.add_(1e-3)
    assert NativeRwkv.from_model(model).identity != first

"""RWKV layer variants through the real commands: make-checkpoint, `mteb run`, `rwkv-mteb sweep`, offline."""

import json

import pytest

from tests.conftest import cli_env, result_files, run, variant_of

pytestmark = [pytest.mark.usefixtures("registered"), pytest.mark.slow]
BASE = "RWKV/v6-Finch-1B6-HF"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("made") / "finch-tiny"
    proc = run(
        "rwkv-mteb",
        "make-checkpoint",
        "--arch",
        "rwkv6",
        "--layers",
        "2",
        "--hidden",
        "128",
        "--seed",
        "0",
        "--out",
        str(out),
        env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"config.json", "model.safetensors", "rwkv_vocab_v20230424.txt"} <= {p.name for p in out.iterdir()}
    return out


def offline_env(tmp_path, shared_data, checkpoint):
    return cli_env(
        HF_HUB_OFFLINE="1",
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_MODEL_PATHS=f"{BASE}={checkpoint}",
        RWKV_MTEB_CACHE_DIR=str(tmp_path / "cache"),
    )


def mteb_run(model, out, env):
    """`mteb run` of one model on MRPC validation, as a user types it."""
    return run(
        "mteb",
        "run",
        "-m",
        model,
        "-t",
        "MRPCZeroShot",
        "--eval-splits",
        "validation",
        "--output-folder",
        str(out),
        "-v",
        "0",
        env=env,
    )


def scores(path):
    return {split: rows[0]["main_score"] for split, rows in json.loads(path.read_text())["scores"].items()}


def test_registered_names():
    import mteb

    from rwkv_mteb.layerwise.variants import display_name

    for name in [
        f"{BASE} (layer=0)",
        f"{BASE} (layer=24)",
        f"{BASE} (layer=1, pooling=max)",
        f"{BASE} (layer=11, pooling=first_last)",
        "RWKV/rwkv-4-169m-pile (layer=12)",
        "openai-community/gpt2 (layer=6, pooling=last)",
    ]:
        meta = mteb.get_model_meta(name)  # the model, the variant its experiment
        assert display_name(meta.name, meta.experiment_kwargs) == name and meta.name == name.partition(" (")[0]
    from rwkv_mteb.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match=r"did you mean .*'RWKV/v6-Finch-1B6-HF \(layer=24\)'"):
        mteb.get_model_meta(f"{BASE} (layer=25)", fetch_from_hf=True)


def test_mteb_run_layer_variant_offline(tmp_path, shared_data, checkpoint):
    proc = mteb_run(
        f"{BASE} (layer=1)",
        tmp_path / "out",
        offline_env(tmp_path, shared_data, checkpoint),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = result_files(tmp_path / "out", "MRPCZeroShot")
    assert variant_of(result) == f"{BASE} (layer=1)"
    # the harness's number is the cosine Spearman of this checkpoint's layer 1, computed here independently
    import numpy as np
    from scipy.stats import spearmanr

    from rwkv_mteb import load_encoder
    from rwkv_mteb.tasks.data import load_splits
    from rwkv_mteb.tasks.spec import load_task_specs

    (spec,) = [s for s in load_task_specs() if s.name == "MRPCZeroShot"]
    os_env = {"RWKV_MTEB_DATA_DIR": str(shared_data), "RWKV_MTEB_MODEL_PATHS": f"{BASE}={checkpoint}"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in os_env.items():
            mp.setenv(key, value)
        mp.setenv("RWKV_MTEB_VECTOR_CACHE", "0")
        data = load_splits(spec, ["validation"])["validation"]
        model = load_encoder(f"{BASE} (layer=1)")
        a, b = (model.encode(list(data[c]), normalize_embeddings=True) for c in ("sentence1", "sentence2"))
    expected = spearmanr(np.sum(a * b, axis=1), data["score"]).statistic
    assert scores(result)["validation"] == pytest.approx(expected, abs=1e-6)
    assert result.parents[2].name == model[0].revision


def test_layer_the_checkpoint_lacks_is_one_line(tmp_path, shared_data, checkpoint):
    proc = mteb_run(
        f"{BASE} (layer=7)",
        tmp_path / "out",
        offline_env(tmp_path, shared_data, checkpoint),
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "error: layer(s) [7] do not exist" in proc.stderr and "0..2" in proc.stderr


def test_sweep_writes_one_result_per_layer_and_fills_the_cache(tmp_path, shared_data, checkpoint):
    env = offline_env(tmp_path, shared_data, checkpoint)
    proc = run(
        "rwkv-mteb",
        "sweep",
        "-m",
        BASE,
        "-t",
        "MRPCZeroShot",
        "--eval-splits",
        "validation",
        "--augmented-sample",
        "0",
        "--output-folder",
        str(tmp_path / "out"),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted(result_files(tmp_path / "out", "MRPCZeroShot"), key=variant_of)
    assert [variant_of(p) for p in results] == [f"{BASE} (layer={k})" for k in range(3)]
    caches = list((tmp_path / "cache" / "vectors").glob("*.sqlite"))
    assert len(caches) == 1
    # a plain `mteb run` of one layer afterwards gives the same number as the sweep (from the cache)
    proc = mteb_run(f"{BASE} (layer=2)", tmp_path / "again", env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (again,) = result_files(tmp_path / "again", "MRPCZeroShot")
    assert scores(again) == scores(results[2])


def test_load_encoder_for_every_family_name(monkeypatch, checkpoint, tmp_path):
    import numpy as np

    from rwkv_mteb import load_encoder

    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{BASE}={checkpoint}")
    monkeypatch.setenv("RWKV_MTEB_VECTOR_CACHE", "0")
    model = load_encoder(f"{BASE} (layer=2, pooling=last)")
    assert model[0].layers == [2] and model[0].pooling == "last"
    combo = load_encoder(BASE, layers=[0, 2], combine="concat")
    assert combo.encode(["a b c"]).shape == (1, 256)
    assert np.isfinite(load_encoder("stanfordnlp/glove.6B.50d").encode(["a b c"])).all()

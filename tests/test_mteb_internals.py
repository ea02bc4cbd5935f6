"""One test per seam into mteb, argparse and CPython internals (rwkv_mteb/mteb_internals.py): when an mteb release
moves one of them, the failing test names it."""

import logging
import sys
import types
import warnings

import pytest

from rwkv_mteb import errors, mteb_internals
from rwkv_mteb.models.wrapper import Encoder

pytestmark = pytest.mark.usefixtures("registered")


def test_untested_mteb_fails_loudly(monkeypatch):
    mteb_internals.check_mteb_version()
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.27.0")
    with pytest.raises(errors.UntestedMtebError, match=r"tested with mteb 2\.26\.\*, but mteb 2\.27\.0"):
        mteb_internals.check_mteb_version()


def test_module_initializing_flag(monkeypatch):
    assert not mteb_internals.our_module_is_initializing()
    fake = types.ModuleType("rwkv_mteb.fake")
    fake.__spec__ = types.SimpleNamespace(_initializing=True)
    monkeypatch.setitem(sys.modules, "rwkv_mteb.fake", fake)
    assert mteb_internals.our_module_is_initializing()


def test_task_registry():
    import mteb

    cls = mteb_internals.registered_task("MRPCZeroShot")
    assert cls is not None and type(mteb.get_task("MRPCZeroShot")) is cls
    assert "MRPCZeroShot" in {t.metadata.name for t in mteb.get_tasks(task_types=["STS"])}


def test_model_registry():
    import mteb

    meta = mteb_internals.model_registry()["stanfordnlp/glove.6B.50d"]
    assert mteb.get_model_meta("stanfordnlp/glove.6B.50d") is meta
    assert meta.loader_kwargs == {"builder": "glove"}


def test_result_hooks_run_after_save_and_name_corrupt_files(tmp_path, data_env):
    import mteb

    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation"])
    mteb.evaluate(mteb.get_model("stanfordnlp/glove.6B.50d"), task, cache=mteb.ResultCache(tmp_path))
    (folder,) = (tmp_path / "results" / "stanfordnlp__glove.6B.50d").iterdir()
    assert (folder / "profiles" / "MRPCZeroShot.json").is_file() and (folder / "commands.jsonl").is_file()


def test_unknown_model_names(monkeypatch):
    import mteb

    from rwkv_mteb.errors import ModelUnavailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError, match=r"unknown model 'stanfordnlp/glove\.6B\.51d'.*did you mean"):
        mteb.get_model("stanfordnlp/glove.6B.51d")
    assert mteb.get_model_meta("stanfordnlp/glove.6B.50d").name == "stanfordnlp/glove.6B.50d"
    with pytest.raises(KeyError):  # what mteb's own callers catch (e.g. for `adapted_from` lookups)
        mteb.get_model_meta("not-registered/anywhere", fetch_from_hf=False)
    # our declarations name models MTEB does not know in `adapted_from`: its lookups must still work
    assert mteb.get_model_meta("RWKV/v6-Finch-1B6-HF (layer=3)").get_training_datasets() is not None


def test_models_loaded_by_mteb_wrapped_and_evaluations_captured():
    import mteb

    original = mteb.get_model
    with mteb_internals.models_loaded_by_mteb_wrapped(lambda model, seconds: ("wrapped", model, seconds)):
        tag, _model, seconds = mteb.get_model("stanfordnlp/glove.6B.50d")
    assert tag == "wrapped" and seconds > 0 and mteb.get_model is original
    original_evaluate = mteb.evaluate
    with mteb_internals.evaluations_captured() as results:
        assert mteb.evaluate is not original_evaluate
    assert results == [] and mteb.evaluate is original_evaluate


def test_encoder_keeps_declared_metadata_and_loaded_revision(caplog):
    import mteb

    meta = mteb.get_model_meta("stanfordnlp/glove.6B.50d")
    from rwkv_mteb import load_encoder

    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        encoder = Encoder(load_encoder("stanfordnlp/glove.6B.50d"), meta, revision="sha256-abc")
    assert not caught and "vocab size" not in caplog.text and "architecture" not in caplog.text
    assert encoder.mteb_model_meta.revision == "sha256-abc"
    encoder.mteb_model_meta = meta  # what MTEB's load_model does after our loader returns
    assert encoder.mteb_model_meta.revision == "sha256-abc" and encoder.mteb_model_meta.name == meta.name


def test_subcommand_replacement():
    from rwkv_mteb.cli import build_parser

    parser = build_parser()
    sub = mteb_internals.subcommands(parser)
    assert {"run", "protocol", "sweep", "models", "leaderboard"} <= set(sub.choices)
    assert "--results" in sub.choices["leaderboard"].format_help()  # ours, not mteb's web app
    assert [a.dest for a in sub._choices_actions].count("leaderboard") == 1


def test_classification_labels_converted_once_give_mtebs_scores(data_env):
    """The label column MTEB scores against is a ``datasets.Column``: our task converts it once, and every metric
    equals MTEB's own computation on the column itself."""
    import mteb
    import numpy as np
    from mteb.abstasks.classification import AbsTaskClassification

    task = mteb.get_task("STSBGenreClassification")
    task.load_data()
    column = task.dataset["test"][task.label_column_name]
    y_pred = np.random.default_rng(0).permutation(np.asarray(column))
    assert type(task)._calculate_scores is not AbsTaskClassification._calculate_scores
    assert task._calculate_scores(column, y_pred) == AbsTaskClassification._calculate_scores(task, column, y_pred)

from pathlib import Path

import pytest

from rwkv_mteb.config import model_paths
from rwkv_mteb.errors import RwkvMtebError


def test_model_paths_split_at_last_equals_sign(monkeypatch):
    monkeypatch.setenv(
        "RWKV_MTEB_MODEL_PATHS", "RWKV/v6-Finch-1B6-HF (layer=1)=/m/a:stanfordnlp/glove.6B.100d=/g/glove.txt"
    )
    assert model_paths() == {
        "RWKV/v6-Finch-1B6-HF (layer=1)": Path("/m/a"),
        "stanfordnlp/glove.6B.100d": Path("/g/glove.txt"),
    }


@pytest.mark.parametrize("bad", ["no-equals-sign", "=/only/path", "name="])
def test_model_paths_rejects_malformed_entries(monkeypatch, bad):
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", bad)
    with pytest.raises(RwkvMtebError, match="name=path"):
        model_paths()

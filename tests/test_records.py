"""Typed records: the shipped JSON Schemas are generated from the pydantic models, and records are checked."""

import pytest
from pydantic import ValidationError

from rwkv_mteb.board.records import schemas
from rwkv_mteb.provenance.records import ProfileFile, schema_text, shipped_schema


@pytest.mark.parametrize("name", sorted(schemas()))
def test_shipped_schema_is_generated_from_the_records(name):
    assert shipped_schema(name) == schema_text(schemas()[name]), (
        f"{name} is stale: regenerate it with `PYTHONPATH=. python -m rwkv_mteb.board.records`"
    )


def test_profile_record_refuses_unknown_and_mistyped_fields():
    record = {
        "model": "m", "revision": "r", "task": "t", "split": "s", "subset": "default", "pair_task": True,
        "sentences": 4, "pairs": 2, "tokens": None, "encode_calls": 2, "encode_seconds": 0.5,
        "seconds_per_pair": 0.25, "sentences_per_second": 8.0, "tokens_per_second": None,
        "peak_gpu_allocated_mb": None, "peak_gpu_reserved_mb": None, "peak_rss_mb": 100.0,
        "model_load_seconds": 1.0, "vector_cache_hits": None, "includes_warmup": True, "warmup_seconds": 0.1,
        "device": "cpu", "dtype": "float32", "batch_size": 32, "versions": {"torch": "2"},
    }  # fmt: skip
    ProfileFile(schema_version=1, model="m", task="t", records=[record])
    with pytest.raises(ValidationError, match="extra"):
        ProfileFile(schema_version=1, model="m", task="t", records=[{**record, "secs": 1}])
    with pytest.raises(ValidationError, match="sentences"):
        ProfileFile(schema_version=1, model="m", task="t", records=[{**record, "sentences": "four"}])

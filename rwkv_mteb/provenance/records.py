"""Typed profile records: what the profiling hook writes beside each result file, as pydantic models.

The JSON Schema files shipped beside the code (``provenance/profile.schema.json``, ``board/leaderboard.schema.json``)
are generated from the models (``PYTHONPATH=. python -m rwkv_mteb.board.records`` rewrites both; a test checks they
are current), so the documentation of a field and its validation cannot drift apart.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROFILE_SCHEMA_VERSION = 2
# where the vectors of a split came from (ProfileRecord.vectors_from's keys)
THIS_EVALUATION, SWEEP_PASS, VECTOR_CACHE = "this evaluation", "sweep pass", "vector cache"


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkerShare(Record):
    """What one worker of a sweep's encode pass did (on Ray, each actor measures its own shards)."""

    sentences: int
    tokens: int
    seconds: float = Field(description="wall time of this worker's pooling calls")


class PassCost(Record):
    """A sweep's encode pass: one forward pass per distinct text still missing from the cache, for one prompt,
    pooling every requested layer by every requested pooling. Every variant evaluated from it shares it."""

    id: str = Field(description="model, prompt and start time of the pass")
    prompt: str
    poolings: list[str]
    layers: list[int] = Field(description="the hidden states the pass computed (every one up to the deepest)")
    shared_by: int = Field(description="variants (layer x pooling) whose vectors this pass produced")
    sentences: int = Field(description="distinct texts the model ran on (not those an earlier run had cached)")
    cached_sentences: int = Field(description="distinct texts an earlier run had already cached")
    tokens: int = Field(description="tokens of the texts the model ran on, prompt included")
    seconds: float = Field(description="wall time of the pass, CUDA synchronised")
    seconds_per_sentence: float | None
    sentences_per_second: float | None
    tokens_per_second: float | None
    peak_rss_mb: float | None = Field(description="peak resident memory of the driver process during the pass")
    peak_gpu_allocated_mb: float | None = Field(description="CUDA peak during the pass; null on the CPU")
    peak_gpu_reserved_mb: float | None
    device: str | None
    dtype: str | None
    workers: dict[str, WorkerShare] = Field(description="who ran the model: this process, or each Ray worker")


class LengthBucket(Record):
    """The encode calls of a split whose longest input falls in one length range (a retrieval corpus of
    long documents is encoded apart from its short queries, so each range shows what long inputs cost)."""

    up_to_tokens: int | None = Field(description="the range's upper end (tokens, inclusive); null: beyond the last")
    calls: int
    inputs: int
    tokens: int = Field(description="the inputs' own tokens, before any cut")
    seconds: float = Field(description="wall time of these calls (read-back time when vectors came from a cache)")
    seconds_per_input: float | None = Field(description="null unless this evaluation computed every vector")
    tokens_per_second: float | None = Field(description="as seconds_per_input")
    peak_rss_mb: float
    peak_gpu_allocated_mb: float | None


class ProfileRecord(Record):
    """The cost of encoding one split (and subset) of one task with one model."""

    model: str | None = Field(description="the model as a user names it: MTEB's name, then its experiment (layer=K)")
    revision: str | None = Field(description="MTEB revision: hub commit, or sha256-<digest> of local weights")
    task: str
    split: str
    subset: str
    pair_task: bool = Field(description="STS or pair classification: pairs = sentences / 2")
    sentences: int
    pairs: int | None
    tokens: int | None = Field(description="from the model's own tokenizer output; null if it has none")
    encode_calls: int
    encode_seconds: float = Field(
        description="wall time inside encode, CUDA synchronised before each clock read (for vectors read back from "
        "a cache, the time of reading them)"
    )
    seconds_per_pair: float | None = Field(
        description="what producing this split's vectors cost per pair: this evaluation's encode time, or the "
        "sweep pass's rate (see sweep_pass); null for vectors read from an earlier run's cache"
    )
    sentences_per_second: float | None = Field(description="as seconds_per_pair")
    tokens_per_second: float | None = Field(description="as seconds_per_pair")
    peak_gpu_allocated_mb: float | None = Field(description="CUDA peak, reset for each split; null on the CPU")
    peak_gpu_reserved_mb: float | None
    peak_rss_mb: float | None = Field(description="peak resident memory while this split was encoded")
    model_load_seconds: float | None
    vector_cache_hits: int | None = Field(description="sentences a layer-wise encoder served from its vector cache")
    vectors_from: dict[str, int] | None = Field(
        None,
        description="sentences by where their vectors came from: 'this evaluation' (the model ran in encode), "
        "'sweep pass' (a sweep's shared pass, sweep_pass), 'vector cache' (an earlier run); null: always computed",
    )
    sweep_pass: PassCost | None = Field(None, description="the pass that produced this split's vectors")
    includes_warmup: bool = Field(description="this split holds the model's first encode call")
    warmup_seconds: float | None
    device: str | None = Field(description="the device(s) that encoded; several when a process pool did")
    dtype: str | None
    worker: str | None = Field(None, description="the process that ran encode: a Ray worker's label, else host:pid")
    produced_by: dict[str, int] | None = Field(
        None,
        description="layer-wise encoders: sentences per worker that computed their vectors in this run "
        "(a sweep's pass, local or on Ray), or 'vector cache' for vectors from an earlier run",
    )
    constant_embeddings: bool | None = Field(
        None, description="every text of this split got the same vector: similarity-based scores are undefined"
    )
    batch_size: int | None
    versions: dict[str, str | None]
    max_input_tokens: int | None = Field(
        None, description="the longest input the encoder reads whole; longer ones are cut (null: no limit known)"
    )
    longest_input_tokens: int | None = Field(None, description="the split's longest input, before any cut")
    truncated_inputs: int | None = Field(
        None, description="inputs longer than max_input_tokens, cut to it (null: the encoder cannot tell)"
    )
    truncated_tokens: int | None = Field(None, description="tokens cut off those inputs, in total")
    by_length: list[LengthBucket] | None = Field(None, description="the split's encode calls by longest input")


class ScalingPoint(Record):
    """One input length measured by `rwkv-mteb scaling` in a fresh process."""

    tokens: int = Field(description="the input's length, in the model's own tokens")
    tokens_encoded: int = Field(description="what the model read: less when it cuts at its maximum positions")
    truncated: bool
    seconds: float = Field(description="fastest timed run, all hidden states mean-pooled")
    seconds_per_token: float = Field(description="seconds / tokens_encoded")
    tokens_per_second: float
    peak_rss_mb: float = Field(description="peak resident memory of one run above the warmed-up model")
    peak_rss_exact: bool = Field(description="the kernel's high-water mark, reset before the run (Linux); else sampled")
    peak_rss_allocator: str = Field(
        "default", description="how the memory process allocated: glibc returning every freed block, or its default"
    )
    peak_gpu_allocated_mb: float | None
    runs: int = Field(description="timed runs in the process whose fastest run gave seconds")
    rounds: int = Field(
        1, description="fresh-process rounds over every length, interleaved: seconds the fastest, memory the highest"
    )
    device: str
    dtype: str
    revision: str


class ScalingCurve(Record):
    """``rwkv-mteb scaling --out FILE``: a model's cost by input length; the board reads ``<results>/scaling/``."""

    model: str
    revision: str | None
    points: list[ScalingPoint]
    seconds_per_token_spread: float | None = Field(description="(max - min) / min over the lengths read whole")
    peak_rss_spread: float | None = Field(description="as seconds_per_token_spread, for peak_rss_mb")
    command: str


class ProfileFile(Record):
    """``<model>/<revision>/profiles/<task>.json``, beside MTEB's result file (version 1 files still read)."""

    schema_version: Literal[1, 2]
    model: str | None
    task: str
    records: list[ProfileRecord]


# ------------------------------------------------------------------------------------------ shipped schemas


def schema_text(model: type[BaseModel]) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def shipped_schema(name: str) -> str:
    return resources.files("rwkv_mteb").joinpath(name).read_text()

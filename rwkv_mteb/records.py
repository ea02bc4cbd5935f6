"""Typed records: what a profile and a leaderboard hold, as pydantic models.

The JSON Schema files shipped beside the code (``profile.schema.json``, ``leaderboard.schema.json``) are
generated from these models (``python -m rwkv_mteb.records`` rewrites them; a test checks they are current), so
the documentation of a field and its validation cannot drift apart.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Interval = tuple[float, float] | None


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------ profiles


class ProfileRecord(_Record):
    """The cost of encoding one split (and subset) of one task with one model."""

    model: str | None = Field(description="model name as registered with MTEB")
    revision: str | None = Field(description="MTEB revision: hub commit, or sha256-<digest> of local weights")
    task: str
    split: str
    subset: str
    pair_task: bool = Field(description="STS or pair classification: pairs = sentences / 2")
    sentences: int
    pairs: int | None
    tokens: int | None = Field(description="from the model's own tokenizer output; null if it has none")
    encode_calls: int
    encode_seconds: float = Field(description="wall time inside encode, CUDA synchronised before each clock read")
    seconds_per_pair: float | None
    sentences_per_second: float | None
    tokens_per_second: float | None
    peak_gpu_allocated_mb: float | None = Field(description="CUDA peak, reset for each split; null on the CPU")
    peak_gpu_reserved_mb: float | None
    peak_rss_mb: float | None = Field(description="peak resident memory while this split was encoded")
    model_load_seconds: float | None
    vector_cache_hits: int | None = Field(description="sentences a layer-wise encoder served from its vector cache")
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


class ProfileFile(_Record):
    """``<model>/<revision>/profiles/<task>.json``, beside MTEB's result file."""

    schema_version: Literal[1]
    model: str | None
    task: str
    records: list[ProfileRecord]


# ------------------------------------------------------------------------------------------ leaderboard


class BinaryMetrics(_Record):
    """Binary-label tasks only; the threshold is chosen on the train split and applied to this split."""

    roc_auc: float
    average_precision: float
    threshold: float | None
    accuracy: float | None
    f1: float | None
    threshold_from: Literal["train"]


class Cost(_Record):
    """From the profiling hook; null when the run has no profile."""

    seconds_per_pair: float | None = None
    sentences_per_second: float | None = None
    tokens_per_second: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_allocated_mb: float | None = None
    model_load_seconds: float | None = None
    device: str | None = None
    dtype: str | None = None
    includes_warmup: bool | None = None


class Provenance(_Record):
    mteb_version: str | None
    dataset_revision: str | None
    evaluated: str | None = Field(description="date of the evaluation (UTC)")
    result_file: str
    command: str | None = Field(description="the command that produced this split (commands.jsonl)")


class Entry(_Record):
    model: str = Field(description="model variant name as registered with MTEB")
    revision: str
    family: str = Field(description="glove, sbert, simcse, rwkv6, rwkv4, ... or other")
    base_model: str
    layer: int | None = Field(description="hidden state pooled (reference layout), null for sentence encoders")
    pooling: str | None
    prompt: str | None = Field(
        None, description="zero-shot prompt method of a layer-wise model: none, eol, echo, tpl-..."
    )
    parameters: int | None
    task: str
    split: str
    main_score: float | None = Field(description="MTEB main score (cosine Spearman on STS tasks); null: undefined")
    undefined: str | None = Field(None, description="why the score is undefined, when it is")
    pearson: float | None = Field(description="cosine Pearson")
    n_pairs: int | None
    ci95_bootstrap: Interval = Field(description="percentile bootstrap over pairs, seeded")
    ci95_fisher: Interval = Field(description="Fisher z with variance 1.06/(n-3)")
    binary: BinaryMetrics | None
    cost: Cost | None
    provenance: Provenance


class Comparison(_Record):
    task: str
    split: str
    model: str
    best_model: str
    difference: float = Field(description="Spearman(model) - Spearman(best), same pairs")
    ci_low: float
    ci_high: float
    p_value: float = Field(ge=0, le=1)
    distinguishable: bool


class MetricCorrelation(_Record):
    spearman: float | None = Field(description="across layers, between the label-free metric and the task score")
    ci95_fisher: Interval = Field(description="Fisher z interval with n = layers")
    layers: int


class LayerSweep(_Record):
    task: str
    split: str
    base_model: str
    pooling: str | None
    prompt: str | None = None
    best_layer: int | None
    layers_not_distinguishable_from_best: list[int]
    metric_correlations: dict[str, MetricCorrelation] = Field(
        default_factory=dict, description="Layer by Layer's analysis: each diagnostic metric vs the score, per layer"
    )


class LayerDiagnostics(_Record):
    """Label-free metrics of one layer (see rwkv_mteb.diagnostics); null where undefined (e.g. constant vectors)."""

    layer: int
    prompt_entropy: float | None = Field(description="Renyi entropy of a text's token states / log(tokens), mean")
    dataset_entropy: float | None = Field(description="Renyi entropy of the sample's pooled vectors / log(texts)")
    curvature: float | None = Field(description="mean angle between successive token steps (radians), mean")
    effective_rank: float | None
    anisotropy: float | None
    intrinsic_dimension: float | None = Field(description="TwoNN maximum-likelihood estimate")
    mean_norm: float | None


class Diagnostics(_Record):
    model: str
    pooling: str
    prompt: str = "none"
    template: str | None = None
    revision: str | None = None
    task: str = Field(description="the task whose texts (as MTEB asks for them) were sampled")
    sentences: int = Field(description="distinct texts the pooled-vector metrics were computed on (seeded sample)")
    token_sentences: int | None = Field(default=None, description="texts of the sample the token metrics used")
    sentences_swept: int | None = Field(default=None, description="distinct texts the sweep encoded")
    layers: list[LayerDiagnostics]


class GeneratedBy(_Record):
    command: list[str]
    rwkv_mteb_version: str


class Board(_Record):
    """Scores with 95% intervals, paired comparisons, cost and provenance, built by `rwkv-mteb leaderboard`
    from MTEB result folders."""

    schema_version: Literal[1]
    generated_by: GeneratedBy
    statistics: dict[str, Any]
    entries: list[Entry]
    comparisons: list[Comparison]
    layer_sweeps: list[LayerSweep]
    diagnostics: list[Diagnostics]
    warnings: list[str]


SCHEMAS = {"leaderboard.schema.json": Board, "profile.schema.json": ProfileFile}


def schema_text(model: type[BaseModel]) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def shipped_schema(name: str) -> str:
    return resources.files("rwkv_mteb").joinpath(name).read_text()


if __name__ == "__main__":  # regenerate the shipped schema files
    for file_name, record in SCHEMAS.items():
        (Path(__file__).parent / file_name).write_text(schema_text(record))

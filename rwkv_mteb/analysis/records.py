"""What ``rwkv-mteb analyze`` writes, one file per model and task (``<output>/analysis/``), as typed records;
the shipped schema ``analysis/analysis.schema.json`` is generated from them."""

from __future__ import annotations

from pydantic import Field

from rwkv_mteb.provenance.records import Record

ANALYSIS_SCHEMA_VERSION = 1


class MatrixSpectrum(Record):
    name: str = Field(description="the weight's parameter name inside its block")
    shape: tuple[int, int]
    decay_rate: float | None = Field(description="b of log(s_i / s_1) = -b (i - 1) / n (analysis/spectra.py)")
    stable_rank: float = Field(description="sum s_i^2 / s_1^2")
    effective_rank: float = Field(description="exp H(s / sum s), Roy & Vetterli")
    relative_stable_rank: float = Field(description="stable rank / min(shape)")
    relative_effective_rank: float = Field(description="effective rank / min(shape)")


class HeadDecay(Record):
    """Quantiles over a head's channels (and, data-dependent, tokens) of the decay d and memory length tau."""

    decay_q10: float
    decay_q50: float
    decay_q90: float
    memory_q10: float
    memory_q50: float
    memory_q90: float
    memory_mean_log: float = Field(description="mean of ln tau: the geometric mean memory length is its exp")


class LayerAnalysis(Record):
    layer: int = Field(description="hidden state (reference layout)")
    relative_depth: float = Field(description="layer / (hidden states - 1)")
    block: int | None = Field(description="the block whose output this hidden state is; null: embeddings/ln_out")
    spectra: list[MatrixSpectrum] = Field(default_factory=list, description="the block's linear weights")
    mean_decay_rate: float | None = None
    mean_relative_stable_rank: float | None = None
    mean_relative_effective_rank: float | None = None
    decay_static: list[HeadDecay] | None = Field(None, description="RWKV: from the decay bias alone, per head")
    decay_data: list[HeadDecay] | None = Field(None, description="RWKV: the decay applied on the task's texts")
    memory_static_median: float | None = Field(None, description="median over heads of the static tau median")
    memory_data_median: float | None = Field(None, description="median over heads of the data tau median")


class GradientBucket(Record):
    texts: int
    norms: list[float] = Field(description="mean ||dL/dh_l|| per hidden state, in order")
    gamma: float | None = Field(description="fitted decay factor: ||dL/dh_l|| ~ gamma^(L-l) (analysis/gradients.py)")


class CrossModelCka(Record):
    relative_depth: float
    layer: int
    other_layer: int
    cka: float | None


class AnalysisFile(Record):
    schema_version: int = ANALYSIS_SCHEMA_VERSION
    model: str
    revision: str
    family: str
    task: str
    texts: int = Field(description="distinct texts of the task analysed (a seeded sample of what MTEB encodes)")
    seed: int
    layers: list[LayerAnalysis]
    gradients: dict[str, GradientBucket] = Field(description="token-length bucket -> gradient norms")
    cka_layers: list[list[float | None]] = Field(description="linear CKA between the mean-pooled layers")
    cka_models: dict[str, list[CrossModelCka]] = Field(
        default_factory=dict, description="other model analysed in the same command -> CKA at equal relative depth"
    )
    seconds: float

"""Typed board records: what ``leaderboard.json`` holds, as pydantic models (its schema, shipped as
``board/leaderboard.schema.json``, is generated from them). The board is assembled from these objects; the
report and the page read their attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from rwkv_mteb.analysis.records import AnalysisFile
from rwkv_mteb.provenance.records import LengthBucket, ProfileFile, Record, ScalingCurve, schema_text

BOARD_SCHEMA_VERSION = 2
Interval = tuple[float, float] | None
VectorsFrom = Literal["this evaluation", "sweep pass", "vector cache", "mixed"]


class BinaryMetrics(Record):
    """STS tasks with binary labels only; the threshold is chosen on the train split and applied to this split,
    never cutting between tied scores (MTEB's rule)."""

    roc_auc: float
    average_precision: float
    threshold: float | None
    accuracy: float | None
    f1: float | None
    threshold_from: Literal["train"]


class Cost(Record):
    """What producing the entry's vectors cost, from the profiling hook; null when the run has no profile. For a
    sweep's variants the rates and peaks are those of the shared encode pass (``shared_by`` variants); for vectors
    read back from an earlier run's cache there is no rate, only ``vectors_from``."""

    vectors_from: VectorsFrom | None = None
    shared_by: int | None = Field(None, description="variants whose vectors the same sweep pass produced")
    seconds_per_pair: float | None = None
    sentences_per_second: float | None = None
    tokens_per_second: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_allocated_mb: float | None = None
    model_load_seconds: float | None = None
    device: str | None = None
    dtype: str | None = None
    includes_warmup: bool | None = None


class Truncation(Record):
    """Inputs the encoder cut to its maximum length on this split (from the profile): a score over cut inputs
    is the score of their beginnings, and the board marks it."""

    inputs: int = Field(description="inputs cut")
    tokens: int = Field(description="tokens cut off them, in total")
    max_input_tokens: int | None = Field(description="where the encoder cuts (its tokenizer's tokens)")
    longest_input_tokens: int | None


class Provenance(Record):
    mteb_version: str | None
    dataset_revision: str | None
    evaluated: str | None = Field(description="date of the evaluation (UTC)")
    result_file: str
    command: str | None = Field(description="the command that produced this split (commands.jsonl)")


class Entry(Record):
    model: str = Field(description="the model as a user names it: a variant is '<MTEB model> (layer=K, ...)'")
    revision: str
    experiment: str | None = Field(
        None, description="MTEB's experiment folder of a variant (results/<model>/<revision>/experiments/<name>/)"
    )
    family: str = Field(description="glove, sbert, simcse, rwkv6, rwkv4, ... or other")
    base_model: str
    layer: int | None = Field(description="hidden state pooled (reference layout), null for sentence encoders")
    pooling: str | None
    prompt: str | None = Field(
        None, description="zero-shot prompt method of a layer-wise model: none, eol, echo, tpl-..."
    )
    ablate: str | None = Field(
        None, description="intervention on a layer-wise model's forward pass (none, time_mix@3, ...)"
    )
    parameters: int | None
    trained_on: str | None = Field(
        None, description="TASK:SPLIT a trained model (`rwkv-mteb train`) was trained on; null: zero-shot"
    )
    task: str
    split: str
    main_score_name: str | None = Field(None, description="the task's MTEB main score: cosine_spearman, max_ap, ...")
    main_score: float | None = Field(description="MTEB main score; null: undefined")
    undefined: str | None = Field(None, description="why the score is undefined, when it is")
    pearson: float | None = Field(description="cosine Pearson (STS tasks)")
    n_pairs: int | None
    n_queries: int | None = Field(None, description="Retrieval/Reranking: queries the main score averages over")
    ci95_bootstrap: Interval = Field(
        description="percentile bootstrap of the main score over pairs (over queries for retrieval), seeded"
    )
    ci95_fisher: Interval = Field(description="Fisher z with variance 1.06/(n-3) (Spearman main scores only)")
    binary: BinaryMetrics | None
    cost: Cost | None
    truncation: Truncation | None = Field(None, description="null: nothing was cut, or the encoder cannot tell")
    by_length: list[LengthBucket] | None = Field(None, description="encode calls by longest input (profile)")
    provenance: Provenance


class Comparison(Record):
    task: str
    split: str
    model: str
    best_model: str
    difference: float = Field(description="main score(model) - main score(best), same pairs")
    ci_low: float
    ci_high: float
    p_value: float = Field(
        ge=0, le=1, description="paired bootstrap, two-sided, unadjusted: 2 (1 - Phi(|d| / bootstrap standard error))"
    )
    p_value_holm: float = Field(ge=0, le=1, description="Holm-adjusted over every comparison of this task split")
    distinguishable: bool = Field(description="p_value_holm < alpha")


class MetricCorrelation(Record):
    spearman: float | None = Field(description="across layers, between the label-free metric and the task score")
    ci95_fisher: Interval = Field(description="Fisher z interval with n = layers")
    layers: int


class LabelFreeChoice(Record):
    """The layer a label-free metric picks in one sweep (its declared direction), and what that choice costs."""

    direction: Literal["max", "min"]
    layer: int
    score: float | None = Field(description="the main score at the picked layer; null: undefined there")
    regret: float | None = Field(description="best layer's score (chosen with labels) - the picked layer's score")


class LayerSweep(Record):
    task: str
    split: str
    base_model: str
    pooling: str | None
    prompt: str | None = None
    ablate: str | None = None
    best_layer: int | None
    layers_not_distinguishable_from_best: list[int] = Field(
        description="paired bootstrap against the best layer, Holm-adjusted over the sweep's layers"
    )
    metric_correlations: dict[str, MetricCorrelation] = Field(
        default_factory=dict, description="Layer by Layer's analysis: each diagnostic metric vs the score, per layer"
    )
    label_free_choices: dict[str, LabelFreeChoice] = Field(
        default_factory=dict, description="per metric: the layer it picks without labels and the regret"
    )


class RegretRow(Record):
    """One label-free metric over every sweep of the board: what choosing the layer by it costs."""

    metric: str
    direction: Literal["max", "min"]
    sweeps: int = Field(description="sweeps (model, method, task split) where the metric picked a scored layer")
    mean_regret: float
    median_regret: float
    max_regret: float
    picked_best: int = Field(description="sweeps where the metric picked the best layer itself")
    picked_tied: int = Field(description="sweeps where it picked a layer not distinguishable from the best (Holm)")
    picked_undefined: int = Field(0, description="further sweeps where it picked a layer with an undefined score")


class InterventionEffect(Record):
    """An intervened variant against the intact variant of the same model, layer, pooling and prompt, on the same
    pairs: the paired difference with its interval and p-value (unadjusted)."""

    task: str
    split: str
    base_model: str
    layer: int
    pooling: str | None
    prompt: str | None
    ablate: str
    score: float
    intact_score: float
    difference: float = Field(description="score(intervened) - score(intact), same pairs")
    ci_low: float
    ci_high: float
    p_value: float = Field(ge=0, le=1)


class LayerDiagnostics(Record):
    """Label-free metrics of one layer (definitions and sources: rwkv_mteb.metrics.layer_metrics); null where
    undefined (constant vectors) or not computed (files written before a metric existed)."""

    layer: int
    prompt_entropy: float | None = Field(None, description="Skean et al.: token states' matrix entropy, mean")
    dataset_entropy: float | None = Field(None, description="Skean et al.: the sample's pooled vectors' entropy")
    curvature: float | None = Field(None, description="Skean et al.: mean arccos|cos| of successive token steps")
    effective_rank: float | None = Field(None, description="Roy & Vetterli: exp H(sigma / sum sigma), raw vectors")
    covariance_effective_rank: float | None = Field(None, description="exp H of the centred covariance spectrum")
    anisotropy: float | None = None
    intrinsic_dimension: float | None = Field(None, description="TwoNN (Facco et al.), scikit-dimension's fit")
    lidar: float | None = Field(None, description="Skean et al.'s LiDAR: entropy of the augmentations' LDA matrix")
    dime: float | None = Field(None, description="Skean et al.'s DiME between two augmented views")
    infonce: float | None = Field(None, description="InfoNCE loss between two augmented views (lower: aligned)")
    mean_norm: float | None = None


class Diagnostics(Record):
    model: str
    pooling: str
    prompt: str = "none"
    template: str | None = None
    ablate: str = Field("none", description="the intervention on the forward pass (rwkv_mteb.interventions)")
    revision: str | None = None
    task: str = Field(description="the task whose texts (as MTEB asks for them) were sampled")
    sentences: int = Field(description="distinct texts the pooled-vector metrics were computed on (seeded sample)")
    token_sentences: int | None = Field(default=None, description="texts of the sample the token metrics used")
    sentences_swept: int | None = Field(default=None, description="distinct texts the sweep encoded")
    augmented_sentences: int | None = Field(None, description="texts LiDAR, DiME and InfoNCE used (augmented)")
    augmentations: int | None = Field(None, description="augmented views per text (LiDAR; DiME/InfoNCE use two)")
    alpha: float | None = Field(None, description="Renyi order of the matrix entropies")
    layers: list[LayerDiagnostics]


class WeightedWord(Record):
    word: str
    weight: float = Field(description="the summed attention weight of the word's tokens (a text's words sum to 1)")
    tokens: int
    kind: Literal["content", "stopword", "punctuation"]


class WeightedText(Record):
    text: str
    words: list[WeightedWord]


class AttentionHead(Record):
    """A trained attention pooling (`rwkv-mteb train --head attention`) looked inside: its per-word weights on
    held-out texts, from the ``attention_weights.json`` saved beside the model (rwkv_mteb.training.inspect)."""

    model: str = Field(description="the trained model's name, as its board entries")
    base_model: str
    layer: int | None = Field(description="the hidden state the head pools")
    trained_on: str
    content_share: float = Field(description="mean share of a text's weight on content words (not stop words)")
    mean_pooling_share: float = Field(description="the same share under a plain mean of the same tokens")
    texts: list[WeightedText]


class GeneratedBy(Record):
    command: list[str]
    rwkv_mteb_version: str


class Board(Record):
    """Scores with 95% intervals, paired comparisons, cost and provenance, built by `rwkv-mteb leaderboard`
    from MTEB result folders."""

    schema_version: Literal[2]
    generated_by: GeneratedBy
    statistics: dict[str, Any]
    entries: list[Entry]
    comparisons: list[Comparison]
    layer_sweeps: list[LayerSweep]
    layer_choice_regret: list[RegretRow] = Field(
        default_factory=list, description="per label-free metric: the regret of choosing layers by it"
    )
    interventions: list[InterventionEffect] = Field(default_factory=list)
    diagnostics: list[Diagnostics]
    analyses: list[AnalysisFile] = Field(default_factory=list, description="what `rwkv-mteb analyze` wrote")
    scaling: list[ScalingCurve] = Field(
        default_factory=list, description="cost by input length: what `rwkv-mteb scaling` wrote under scaling/"
    )
    attention_heads: list[AttentionHead] = Field(
        default_factory=list, description="trained attention poolings' weights on held-out texts"
    )
    warnings: list[str]


def schemas() -> dict[str, type[BaseModel]]:
    """Every shipped schema file (relative to the package) -> the record it documents."""
    return {
        "provenance/profile.schema.json": ProfileFile,
        "board/leaderboard.schema.json": Board,
        "analysis/analysis.schema.json": AnalysisFile,
    }


if __name__ == "__main__":  # regenerate the shipped schema files
    for file_name, record in schemas().items():
        (Path(__file__).parent.parent / file_name).write_text(schema_text(record))

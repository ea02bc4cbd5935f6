"""``rwkv-mteb sweep``: every requested layer, pooling, prompt and intervention of a language model from one
forward pass per distinct text, prompt and intervention, on any task MTEB evaluates with an encoder.

The sweep builds its encoder with a :class:`~rwkv_mteb.layerwise.session.SweepSession` (what every view of it
shares), then: a dry run records what MTEB asks for (:mod:`rwkv_mteb.runs.dry_run`); per intervention
(:mod:`rwkv_mteb.interventions`, ``none`` the intact model) and prompt, one measured pass
pools every requested layer by every requested pooling of those texts, and of the metrics' augmented views, into
the vector cache (:mod:`rwkv_mteb.runs.encode_pass`); the label-free metrics are written
(:mod:`rwkv_mteb.runs.sweep_metrics`); and each variant ``(layer, pooling, prompt, ablate)`` is evaluated by MTEB
as usual (its standard result file), its texts served from the cache, its profile carrying the pass that made them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mteb
from tqdm.auto import tqdm

from rwkv_mteb.cache.memo import Memo
from rwkv_mteb.cache.store import VectorCache
from rwkv_mteb.config import vector_cache_enabled
from rwkv_mteb.errors import ModelUnavailableError, VariantError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.layerwise.prompts import Prompt
from rwkv_mteb.layerwise.session import SweepSession
from rwkv_mteb.layerwise.variants import check_pooling
from rwkv_mteb.metrics.layer_metrics import AUGMENTED_SAMPLE, DIAGNOSTIC_SAMPLE, RENYI_ORDER
from rwkv_mteb.models.builders import layerwise_encoder
from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME, layerwise_meta
from rwkv_mteb.models.wrapper import wrap_for_mteb
from rwkv_mteb.mteb_internals import fresh_task
from rwkv_mteb.provenance.sidecars import prediction_folder
from rwkv_mteb.registry import register
from rwkv_mteb.runs.dry_run import Request, select_tasks, texts_mteb_encodes, texts_of
from rwkv_mteb.runs.encode_pass import run_pass
from rwkv_mteb.runs.sweep_metrics import MetricSample, draw_sample, token_level_metrics, write_diagnostics


def sweep(
    *,
    model: str,
    tasks: Sequence[str] | None = None,
    layers: list[int] | None = None,
    poolings: Sequence[str] = ("mean",),
    prompts: Sequence[str] = ("none",),
    ablations: Sequence[str] = ("none",),
    output_folder: Path = Path("results"),
    batch_size: int = 32,
    device: str | None = None,
    eval_splits: list[str] | None = None,
    overwrite_strategy: str = "only-missing",
    show_progress_bar: bool = True,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    dtype: str | None = None,
    task_types: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    metric_sample: int = DIAGNOSTIC_SAMPLE,
    augmented_sample: int = AUGMENTED_SAMPLE,
    alpha: float = RENYI_ORDER,
) -> list[Any]:
    """Returns MTEB's ``ModelResult`` of each variant. ``executor="ray"``: the encode pass runs on Ray actors
    (:mod:`rwkv_mteb.runs.ray`); everything else is the same. ``metric_sample``: distinct texts per task the
    label-free layer metrics use; ``augmented_sample``: of those, texts augmented for LiDAR, DiME and InfoNCE (0:
    not computed); ``alpha``: the Renyi order of the matrix entropies; ``ablations``: interventions, each its own
    pass (``none``: the intact model)."""
    register()
    methods, poolings, interventions = _axes(model, prompts, poolings, ablations)  # bad input fails before loading
    ray_pass = None
    if executor == "ray":  # workers start (and load the model) while this process loads its copy and the data
        from rwkv_mteb.runs.ray import RayEncodePass  # Ray is an optional extra

        ray_pass = RayEncodePass(model, device, dtype, address, workers)
    try:
        encoder, load_seconds = _load(model, layers, poolings, device, dtype)
        task_objects = select_tasks(tasks, task_types, languages, categories, benchmarks, eval_splits)
        per_task = texts_mteb_encodes(encoder, task_objects, batch_size)
        samples = {t: draw_sample(texts_of(r), metric_sample, augmented_sample) for t, r in per_task.items()}
        requests = list(dict.fromkeys(r for task_requests in per_task.values() for r in task_requests))
        requests += [(None, v) for s in samples.values() for v in s.view_texts]
        run = _Run(task_objects, Path(output_folder), batch_size, overwrite_strategy, load_seconds, show_progress_bar)
        results = []
        for intervention in interventions:
            for prompt in methods:
                view = encoder.view(encoder.layers, poolings[0], prompt=prompt, ablate=intervention)
                encode_prompt(view, requests, len(poolings), batch_size, ray_pass, show_progress_bar)
                swept = {t: len(texts_of(r)) for t, r in per_task.items()}
                results += run.evaluate_prompt(view, poolings, samples, swept, alpha)
    finally:
        if ray_pass is not None:
            ray_pass.close()
    return results


def encode_prompt(
    view: LayerwiseEncoder, requests: list[Request], poolings: int, batch_size: int, ray_pass: Any, progress: bool
) -> None:
    """The passes of one prompt's view over the requests (a one-side prompt: one per side), into a fresh memo:
    this prompt's rows, for its variants' evaluations (freed with the next prompt)."""
    view.session.memo = Memo()
    shared_by = len(view.layers) * poolings
    for method, texts in by_method(view.prompt, requests).items():
        run_pass(view.view(view.layers, prompt=method), texts, batch_size, shared_by, ray_pass, progress)


def by_method(prompt: Prompt, requests: list[Request]) -> dict[Prompt, list[str]]:
    """The distinct texts of each method ``prompt`` gives the requests' sides (one group unless it is one-side)."""
    groups: dict[Prompt, dict[str, None]] = {}
    for side, text in requests:
        groups.setdefault(prompt.for_side(side), {})[text] = None
    return {method: list(texts) for method, texts in groups.items()}


def _axes(
    model: str, prompts: Sequence[str], poolings: Sequence[str], ablations: Sequence[str]
) -> tuple[list[Prompt], list[str], list[Intervention]]:
    if model not in LANGUAGE_MODELS_BY_NAME:
        raise ModelUnavailableError(
            f"sweep needs a language model rwkv-mteb knows: one of {sorted(LANGUAGE_MODELS_BY_NAME)}"
        )
    lm = LANGUAGE_MODELS_BY_NAME[model]
    methods = [Prompt.of(p) for p in dict.fromkeys(prompts)]
    checked = [check_pooling(p, lm.family) for p in dict.fromkeys(poolings)]
    interventions = list(dict.fromkeys(Intervention.parse(a) for a in ablations))
    for intervention in interventions:
        intervention.check(lm.family, lm.hidden_states - 1)
    if not methods or not checked or not interventions:
        raise VariantError("a sweep needs at least one prompt, one pooling and one intervention (none: intact)")
    return methods, checked, interventions


def _load(
    model: str, layers: list[int] | None, poolings: list[str], device: str | None, dtype: str | None
) -> tuple[LayerwiseEncoder, float]:
    """The sweep's encoder over ``layers`` (default: every hidden state of the checkpoint actually loaded), built
    with its session; and how long loading took."""
    start = time.perf_counter()
    session = SweepSession(poolings=tuple(poolings))
    cache = True if vector_cache_enabled() else VectorCache(Path(":memory:"))  # this run's vectors, at least
    family = LANGUAGE_MODELS_BY_NAME[model].family
    encoder = layerwise_encoder(
        model, family=family, layers=[0], pooling=poolings[0], device=device, dtype=dtype, cache=cache, session=session
    )
    load_seconds = time.perf_counter() - start
    return encoder.view(
        list(range(encoder.backbone.num_hidden_states)) if layers is None else list(layers)
    ), load_seconds


class _Run:
    """What every variant of one sweep is evaluated with."""

    def __init__(
        self, tasks: list[Any], out: Path, batch_size: int, overwrite: str, load_seconds: float, progress: bool
    ) -> None:
        self.tasks, self.out, self.batch_size, self.overwrite = tasks, out, batch_size, overwrite
        self.load_seconds, self.progress = load_seconds, progress

    def evaluate_prompt(
        self,
        view: LayerwiseEncoder,
        poolings: list[str],
        samples: dict[str, MetricSample],
        swept: dict[str, int],
        alpha: float,
    ) -> list[Any]:
        """Diagnostics and MTEB's evaluation of every (pooling, layer) variant of one prompt's pass."""
        token_metrics = {task: token_level_metrics(view, sample, alpha) for task, sample in samples.items()}
        results = []
        for pooling in poolings:
            pooled = view.view(view.layers, pooling)
            for task, sample in samples.items():
                write_diagnostics(pooled, task, sample, token_metrics[task], self.out, swept[task], alpha)
            label = f"MTEB, {pooling}/{view.prompt.name}" + (f"/{view.ablate.name}" if view.ablate else "")
            for layer in tqdm(pooled.layers, desc=label, disable=not self.progress):
                results.append(self.evaluate_variant(pooled.view([layer])))
        return results

    def evaluate_variant(self, view: LayerwiseEncoder) -> Any:
        """MTEB's evaluation of one variant, filed as an experiment of its model."""
        meta = variant_meta(view.model_id, view.layers[0], view.pooling, view.prompt, view.ablate)
        wrapper = wrap_for_mteb(view.as_model(), meta, view.revision, self.load_seconds)
        result = mteb.evaluate(
            wrapper,
            [fresh_task(task) for task in self.tasks],
            cache=mteb.ResultCache(self.out),
            overwrite_strategy=self.overwrite,
            show_progress_bar=False,
            encode_kwargs={"batch_size": self.batch_size},
            prediction_folder=prediction_folder(self.out, wrapper.mteb_model_meta),
        )
        # mteb.evaluate leaves the experiment out of the ModelResult it returns; the files have it
        return result.model_copy(update={"experiment_name": wrapper.mteb_model_meta.experiment_name})


def variant_meta(model: str, layer: int, pooling: str, prompt: Prompt, ablate: Intervention | None = None) -> Any:
    """The meta MTEB files a variant under: the language model's, the variant as its experiment."""
    lm = LANGUAGE_MODELS_BY_NAME[model]
    return layerwise_meta(lm, layer, pooling, prompt.name, prompt.spec, (ablate or Intervention()).name)

"""A sweep's encode pass: one forward pass over every distinct text still missing from the vector cache, longest
first, pooling every requested layer by every requested pooling, on this process or on Ray workers. The pass is
measured as a whole (wall time, tokens, sentences, peak memory, per worker) and recorded as a
:class:`~rwkv_mteb.provenance.records.PassCost` in the sweep's session, which every variant evaluated from its
vectors then carries: a variant's cost is the cost of producing its vectors, never the time of reading them back."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from rwkv_mteb.cache.schema import key as cache_key
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.provenance.identity import worker_label
from rwkv_mteb.provenance.memory import measured
from rwkv_mteb.provenance.records import PassCost, WorkerShare

LOOKUP_CHUNK = 500  # keys per cache query when finding what an earlier run already cached


def missing_texts(encoder: LayerwiseEncoder, texts: list[str], token_ids: list[list[int]]) -> list[int]:
    """Indices of the texts whose vectors (every requested layer) are not cached yet, longest first."""
    cache = encoder.cache
    keys = [cache_key(encoder.method(), text) for text in texts]
    have: set[str] = set()
    for first in range(0, len(keys), LOOKUP_CHUNK):
        have.update(cache.get(keys[first : first + LOOKUP_CHUNK], encoder.layers) if cache is not None else {})
    order = sorted(range(len(texts)), key=lambda i: -len(token_ids[i]))
    return [i for i in order if keys[i] not in have]


@dataclass(frozen=True)
class PassPlan:
    """What one pass runs: the prompted texts' token ids and pooled-span starts, which of them are still
    missing from the cache (longest first), in batches of ``batch_size``; ``pass_id`` names the pass."""

    texts: list[str]
    token_ids: list[list[int]]
    starts: list[int]
    missing: list[int]
    batch_size: int
    pass_id: str


def local_pass(encoder: LayerwiseEncoder, plan: PassPlan, show_progress_bar: bool = True) -> dict[str, WorkerShare]:
    """The pass in this process, batches of equal token counts; returns what this worker did."""
    here = worker_label(str(encoder.backbone.device))
    share = WorkerShare(sentences=0, tokens=0, seconds=0.0)
    ablate = f", ablate={encoder.ablate.name}" if encoder.ablate else ""
    label = f"{encoder.model_id}: all layers, prompt={encoder.prompt.name}{ablate}, one pass"
    step = plan.batch_size
    for first in tqdm(range(0, len(plan.missing), step), desc=label, disable=not show_progress_bar):
        rows = plan.missing[first : first + step]
        start = time.perf_counter()
        vectors = encoder.compute([plan.token_ids[i] for i in rows], [plan.starts[i] for i in rows])
        encoder.store([plan.texts[i] for i in rows], vectors, here, plan.pass_id)
        share.seconds += time.perf_counter() - start
        share.sentences += len(rows)
        share.tokens += sum(len(plan.token_ids[i]) for i in rows)
    return {here: share}


def run_pass(
    encoder: LayerwiseEncoder,
    texts: list[str],
    batch_size: int,
    shared_by: int,
    on_ray: Any = None,
    show_progress_bar: bool = True,
) -> PassCost:
    """Fill the cache with ``encoder``'s vectors of ``texts`` (its prompt; the session's poolings; every layer up
    to the deepest requested), record the pass in the session and return its cost."""
    session = encoder.session
    assert session is not None, "a pass belongs to a sweep's session"
    token_ids, starts = encoder.encode_texts(texts)
    missing = missing_texts(encoder, texts, token_ids)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ablate = f" ablate={encoder.ablate.name}" if encoder.ablate else ""
    pass_id = f"{encoder.model_id} prompt={encoder.prompt.name}{ablate} {started}"
    plan = PassPlan(texts, token_ids, starts, missing, batch_size, pass_id)
    with measured() as peaks:
        workers = on_ray.run(encoder, plan) if on_ray is not None else local_pass(encoder, plan, show_progress_bar)
    sentences = sum(w.sentences for w in workers.values())
    tokens = sum(w.tokens for w in workers.values())
    seconds = peaks.seconds
    cost = PassCost(
        id=pass_id,
        prompt=encoder.prompt.name,
        poolings=list(session.poolings),
        layers=encoder.computed_layers(),
        shared_by=shared_by,
        sentences=sentences,
        cached_sentences=len(texts) - len(missing),
        tokens=tokens,
        seconds=seconds,
        seconds_per_sentence=seconds / sentences if sentences else None,
        sentences_per_second=sentences / seconds if sentences and seconds > 0 else None,
        tokens_per_second=tokens / seconds if sentences and seconds > 0 else None,
        peak_rss_mb=peaks.rss_mb,
        peak_gpu_allocated_mb=peaks.gpu_allocated_mb,
        peak_gpu_reserved_mb=peaks.gpu_reserved_mb,
        device=str(encoder.backbone.device),
        dtype=encoder.dtype,
        workers=workers,
    )
    session.passes[pass_id] = cost
    return cost

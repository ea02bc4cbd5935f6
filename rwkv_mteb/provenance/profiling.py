"""The profiling hook: what every evaluation costs, recorded per model, task and split.

``profile(model, load_seconds)`` wraps an MTEB encoder in place (its ``encode`` is replaced on the instance,
so every ``isinstance`` check MTEB makes still holds). Each split gets one :class:`ProfileRecord`: sentences,
pairs, tokens, encode wall time, peak GPU memory (reset for the split), peak resident memory of the split, model
load time, device, dtype, batch size and library versions, and input lengths: the longest input, how many
inputs the encoder cut to its maximum length and by how many tokens, and the cost of encode calls by their
longest input (:mod:`rwkv_mteb.provenance.lengths`). CUDA work is synchronised before a clock is read; the
split that contains the model's first encode call is flagged, and that call's time is reported as warm-up.

Rates (seconds per pair, sentences and tokens per second) describe what *producing* the split's vectors cost:
the encode calls' own time when the model ran in them, the shared encode pass's rates when a sweep's pass made
the vectors (the record carries that pass), and nothing (null) when the vectors were read back from an earlier
run's cache: a read-back time is never reported as the model's speed. ``vectors_from`` says which.

Records are written beside MTEB's result file of the task, as ``<revision folder>/profiles/<task>.json``
(outside MTEB's ``*/*/*.json`` result glob), atomically, every time MTEB saves that task's result, so an
interrupted run keeps the profiles of the splits it finished. Schema: README, "Profiles".
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from rwkv_mteb.errors import CorruptFileError
from rwkv_mteb.layerwise.variants import display_name
from rwkv_mteb.provenance.identity import worker_label
from rwkv_mteb.provenance.lengths import add_lengths, call_lengths, finish_lengths, logged_so_far
from rwkv_mteb.provenance.memory import measured
from rwkv_mteb.provenance.records import (
    PROFILE_SCHEMA_VERSION,
    SWEEP_PASS,
    THIS_EVALUATION,
    ProfileFile,
    ProfileRecord,
)
from rwkv_mteb.provenance.sidecars import atomic_write_json, atomic_write_text, log_commands, profile_path, read_json

logger = logging.getLogger(__name__)
PAIR_TASK_TYPES = {"STS", "PairClassification"}
_active: weakref.WeakSet[Profiler] = weakref.WeakSet()


def _versions() -> dict[str, str | None]:
    out = {}
    for name in ("torch", "transformers", "sentence-transformers", "mteb", "rwkv-mteb"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _token_count(features: dict[str, Any]) -> int | None:
    """Tokens of a batch, read off the input module's output (no second tokenization)."""
    if "attention_mask" in features:
        return int(features["attention_mask"].sum())
    if "offsets" in features and "input_ids" in features:  # StaticEmbedding
        return int(features["input_ids"].numel())
    return None


class Profiler:
    def __init__(self, model: Any, load_seconds: float | None) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = model
        self.load_seconds = load_seconds
        self.records: dict[tuple[str, str, str], ProfileRecord] = {}
        self.first_call_done = False
        self._first_vector: dict[tuple[str, str, str], np.ndarray] = {}
        self.devices: str | None = None  # set when sentence-transformers encodes on several devices (a pool)
        self.last_used = 0.0  # when this profiler last recorded an encode call (the newest record wins)
        self._hooked_tokens: int | None = None
        inner = getattr(model, "model", None)
        self._st = inner if isinstance(inner, SentenceTransformer) else None
        self._first = self._st[0] if self._st is not None and len(self._st) else None
        # our own input modules count their tokens (`tokens_seen`); others are read by a forward hook
        self._hook = None
        if self._first is not None and not hasattr(self._first, "tokens_seen"):
            self._hook = self._first.register_forward_hook(self._count_tokens)

    @contextmanager
    def hook_detached(self) -> Iterator[None]:
        """Without the token-counting hook, e.g. while the model is copied into worker processes (the hook
        refers to this profiler, which cannot be pickled)."""
        if self._hook is None:
            yield
            return
        self._hook.remove()
        try:
            yield
        finally:
            self._hook = self._first.register_forward_hook(self._count_tokens)

    def _count_tokens(self, module: Any, args: tuple, output: Any) -> None:
        features = args[0] if args else {}
        count = _token_count(features) if isinstance(features, dict) else None
        if count is not None:
            self._hooked_tokens = (self._hooked_tokens or 0) + count

    def _tally(self) -> dict[str, Any]:
        """What the input module counts itself (the layer-wise encoder and GloVe), read before and after a call."""
        first = self._first
        return {
            "tokens": getattr(first, "tokens_seen", None),
            "hits": getattr(first, "cache_hits", None),
            "producers": Counter(getattr(first, "producers", None) or {}),
            "origins": Counter(getattr(first, "origins", None) or {}),
        }

    @property
    def model_name(self) -> str | None:
        """The model with its experiment (a sweep's variants share MTEB's name and revision)."""
        return identity_name(getattr(self.model, "mteb_model_meta", None))

    @property
    def model_revision(self) -> str | None:
        meta = getattr(self.model, "mteb_model_meta", None)
        return meta.revision if meta is not None else None

    def wrap(self, encode: Callable[..., Any]) -> Callable[..., Any]:
        def profiled_encode(inputs: Any, *args: Any, **kwargs: Any) -> Any:
            task = kwargs.get("task_metadata")
            key = (getattr(task, "name", "?"), str(kwargs.get("hf_split", "?")), str(kwargs.get("hf_subset", "?")))
            record = self.records.get(key)
            new = record is None
            if record is None:
                record = self.records[key] = self._new_record(key, task, kwargs)
            self._hooked_tokens = None
            before = self._tally()
            logged = logged_so_far(self._first)
            with measured(reset_gpu_peak=new) as peaks:
                out = encode(inputs, *args, **kwargs)
            if not self.first_call_done:
                self.first_call_done = True
                record.includes_warmup, record.warmup_seconds = True, peaks.seconds
            self.last_used = time.monotonic()
            self._add_call(record, before, peaks, len(getattr(inputs, "dataset", ()) or ()))
            measured_lengths = call_lengths(self._first, inputs, logged)
            if measured_lengths is not None:
                add_lengths(record, *measured_lengths, peaks)
            self._check_constant(key, record, out)
            _finish(record, getattr(self._first, "sweep_pass", None))
            return out

        profiled_encode.__wrapped__ = encode  # type: ignore[attr-defined]
        return profiled_encode

    def _add_call(self, record: ProfileRecord, before: dict[str, Any], peaks: Any, sentences: int) -> None:
        after = self._tally()
        record.encode_calls += 1
        record.sentences += sentences
        record.encode_seconds += peaks.seconds
        tokens = after["tokens"] - before["tokens"] if before["tokens"] is not None else self._hooked_tokens
        if tokens is not None:
            record.tokens = (record.tokens or 0) + tokens
        if before["hits"] is not None:
            record.vector_cache_hits = (record.vector_cache_hits or 0) + after["hits"] - before["hits"]
        if self._first is not None and hasattr(self._first, "producers"):
            produced = Counter(record.produced_by or {}) + (after["producers"] - before["producers"])
            record.produced_by = dict(sorted(produced.items()))
            origins = Counter(record.vectors_from or {}) + (after["origins"] - before["origins"])
            record.vectors_from = dict(sorted(origins.items()))
        record.peak_rss_mb = max(record.peak_rss_mb or 0.0, peaks.rss_mb)
        if peaks.gpu_allocated_mb is not None:
            record.peak_gpu_allocated_mb, record.peak_gpu_reserved_mb = peaks.gpu_allocated_mb, peaks.gpu_reserved_mb

    def _check_constant(self, key: tuple[str, str, str], record: ProfileRecord, out: Any) -> None:
        """Whether every vector of the split so far is the first one: then cosine-based scores are undefined (a
        prompt-only layer, e.g. the last token of a fixed template at the embedding layer)."""
        try:
            vectors = np.asarray(out.float().cpu() if hasattr(out, "cpu") else out, dtype=np.float64)
        except (TypeError, ValueError):
            return
        if vectors.ndim != 2 or not len(vectors):
            return
        first = self._first_vector.setdefault(key, vectors[0])
        scale = max(float(np.abs(first).max()), 1e-30)
        same = bool(np.abs(vectors - first).max() <= 1e-6 * scale)
        record.constant_embeddings = same and record.constant_embeddings is not False

    def _new_record(self, key: tuple[str, str, str], task: Any, kwargs: dict[str, Any]) -> ProfileRecord:
        device = dtype = None
        if self._st is not None:
            param = next(self._st.parameters(), None)
            device = str(param.device) if param is not None else str(self._st.device)
            dtype = str(param.dtype).removeprefix("torch.") if param is not None else None
        meta = getattr(self.model, "mteb_model_meta", None)
        return ProfileRecord(
            model=identity_name(meta),
            revision=getattr(meta, "revision", None),
            task=key[0],
            split=key[1],
            subset=key[2],
            pair_task=getattr(task, "type", None) in PAIR_TASK_TYPES,
            sentences=0,
            pairs=None,
            tokens=None,
            encode_calls=0,
            encode_seconds=0.0,
            seconds_per_pair=None,
            sentences_per_second=None,
            tokens_per_second=None,
            peak_gpu_allocated_mb=None,
            peak_gpu_reserved_mb=None,
            peak_rss_mb=None,
            model_load_seconds=self.load_seconds,
            vector_cache_hits=None,
            includes_warmup=False,
            warmup_seconds=None,
            device=self.devices or device,
            dtype=dtype,
            worker=worker_label(),
            batch_size=kwargs.get("batch_size"),
            versions=_versions(),
        )


def _finish(record: ProfileRecord, sweep_pass: Any) -> None:
    """Pairs, and the rates of producing the split's vectors (see the module docstring)."""
    record.pairs = record.sentences // 2 if record.pair_task else None
    origins = set(record.vectors_from or {THIS_EVALUATION: record.sentences})
    record.sweep_pass = sweep_pass if SWEEP_PASS in origins else None
    seconds = sentences = tokens = None
    if origins <= {THIS_EVALUATION}:
        seconds, sentences, tokens = record.encode_seconds, record.sentences, record.tokens
    elif record.sweep_pass is not None and record.sweep_pass.sentences:
        seconds, sentences, tokens = record.sweep_pass.seconds, record.sweep_pass.sentences, record.sweep_pass.tokens
    ok = bool(seconds and sentences)
    finish_lengths(record, origins <= {THIS_EVALUATION})
    record.sentences_per_second = sentences / seconds if ok else None
    record.tokens_per_second = tokens / seconds if ok and tokens is not None else None
    record.seconds_per_pair = 2 * seconds / sentences if ok and record.pair_task else None


def identity_name(meta: Any) -> str | None:
    """A model meta's name with its experiment, as a user types it: ``"<model> (layer=3)"``."""
    name = getattr(meta, "name", None)
    return display_name(name, getattr(meta, "experiment_kwargs", None)) if name is not None else None


def profile(model: Any, load_seconds: float | None = None) -> Any:
    """Wrap ``model`` (an MTEB encoder) in place; a model already profiled is returned unchanged."""
    if getattr(model, "_rwkv_mteb_profiler", None) is not None:
        return model
    profiler = Profiler(model, load_seconds)
    model.encode = profiler.wrap(model.encode)
    model._rwkv_mteb_profiler = profiler
    _active.add(profiler)
    return model


def _records_for(task_name: str, model_name: str | None, revision: str | None) -> list[ProfileRecord]:
    return [
        record.model_copy()  # oldest first: a later run of the same model in this process overrides an earlier one
        for profiler in sorted(_active, key=lambda p: p.last_used)
        if profiler.model_name == model_name and (revision is None or profiler.model_revision in (None, revision))
        for key, record in profiler.records.items()
        if key[0] == task_name and record.encode_calls > 0
    ]


def write_profiles(result_path: Path, records: list[ProfileRecord], model_name: str | None, task_name: str) -> Path:
    """Merge this run's records into the task's profile file (atomic replace). A corrupt profile file is moved
    aside (named in a warning), never silently overwritten."""
    path = profile_path(result_path)
    existing: list[ProfileRecord] = []
    if path.is_file():
        try:
            existing = ProfileFile.model_validate(read_json(path, "profile", "it was moved aside")).records
        except (CorruptFileError, ValidationError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            path.replace(aside)
            logger.warning("%s (to %s); a new profile is written", exc, aside)
    merged = {(r.split, r.subset): r for r in [*existing, *records]}
    payload = ProfileFile(
        schema_version=PROFILE_SCHEMA_VERSION,
        model=model_name,
        task=task_name,
        records=[merged[k] for k in sorted(merged)],
    )
    atomic_write_json(path, payload.model_dump(mode="json"))
    return path


def _stable_model_meta(folder: Path) -> None:
    """MTEB writes ``training_datasets`` from a set, in an order that changes between runs: sort it."""
    path = folder / "model_meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(meta.get("training_datasets"), list):
        ordered = sorted(meta["training_datasets"], key=str)
        if ordered != meta["training_datasets"]:
            meta["training_datasets"] = ordered
            atomic_write_text(path, json.dumps(meta, indent=4, default=str))


def after_result_saved(result_path: Path, task_result: Any, model: Any) -> None:
    """Runs each time MTEB saves a task result: the profiles of the splits this process encoded, and the
    command that produced them, go beside the result file."""
    name = model if isinstance(model, str) else identity_name(model)
    revision = None if isinstance(model, str) else getattr(model, "revision", None)
    task_name = task_result.task_name
    records = _records_for(task_name, name, revision)
    _stable_model_meta(result_path.parent)
    if not records:
        return
    write_profiles(result_path, records, name, task_name)
    splits = sorted({r.split for r in records} & set(task_result.scores))
    log_commands(result_path, name or "?", revision, task_name, splits)

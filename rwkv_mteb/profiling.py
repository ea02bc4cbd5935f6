"""The profiling hook: what every evaluation costs, recorded per model, task and split.

``profile(model, load_seconds)`` wraps an MTEB encoder in place (its ``encode`` is replaced on the instance,
so every ``isinstance`` check MTEB makes still holds). Each split gets one record: sentences, pairs, tokens,
encode wall time, rates, peak GPU memory (reset for the split), peak resident memory of the split, model load
time, device, dtype, batch size and library versions. CUDA work is synchronised before a clock is read; the
split that contains the model's first encode call is flagged, and that call's time is reported as warm-up.

Records are written beside MTEB's result file of the task, as ``<revision folder>/profiles/<task>.json``
(outside MTEB's ``*/*/*.json`` result glob), atomically, every time MTEB saves that task's result, so an
interrupted run keeps the profiles of the splits it finished. Schema: README, "Profiles".
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from rwkv_mteb.distributed import worker_label
from rwkv_mteb.errors import CorruptFileError
from rwkv_mteb.files import atomic_write_json, atomic_write_text, log_commands, profile_path, read_json
from rwkv_mteb.records import ProfileFile

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
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


def _rss_mb() -> float:
    """Current resident memory of this process (Linux /proc; elsewhere the lifetime peak, documented)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _RssPeak:
    """Peak resident memory while a block runs, sampled by one long-lived background thread that sleeps
    between blocks (starting a thread per encode call would cost more than a fast encoder's whole call)."""

    _sampler: _Sampler | None = None

    def __init__(self, interval: float = 0.02) -> None:
        if _RssPeak._sampler is None:
            _RssPeak._sampler = _Sampler(interval)
        self.peak = 0.0

    def __enter__(self) -> _RssPeak:
        assert _RssPeak._sampler is not None
        _RssPeak._sampler.begin()
        return self

    def __exit__(self, *exc: object) -> None:
        assert _RssPeak._sampler is not None
        self.peak = _RssPeak._sampler.end()


class _Sampler:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.peak = 0.0
        self._active = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True, name="rwkv-mteb-rss").start()

    def _run(self) -> None:
        while True:
            self._active.wait()
            time.sleep(self.interval)
            if self._active.is_set():
                rss = _rss_mb()
                with self._lock:
                    self.peak = max(self.peak, rss)

    def begin(self) -> None:
        with self._lock:
            self.peak = _rss_mb()
        self._active.set()

    def end(self) -> float:
        self._active.clear()
        rss = _rss_mb()
        with self._lock:
            self.peak = max(self.peak, rss)
            return self.peak


def _cuda():  # type: ignore[no-untyped-def]
    import torch

    return torch.cuda if torch.cuda.is_available() else None


def _sentence_transformer(model: Any) -> Any:
    from sentence_transformers import SentenceTransformer

    inner = getattr(model, "model", None)
    return inner if isinstance(inner, SentenceTransformer) else None


def _token_count(features: dict[str, Any]) -> int | None:
    """Tokens of a batch, read off the input module's output (no second tokenization)."""
    if "token_ids" in features:  # the layer-wise encoder
        return sum(len(ids) for ids in features["token_ids"])
    if "attention_mask" in features:
        return int(features["attention_mask"].sum())
    if "offsets" in features and "input_ids" in features:  # StaticEmbedding (GloVe)
        return int(features["input_ids"].numel())
    return None


class Profiler:
    def __init__(self, model: Any, load_seconds: float | None) -> None:
        self.model = model
        self.load_seconds = load_seconds
        self.records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.first_call_done = False
        self._first_vector: dict[tuple[str, str, str], np.ndarray] = {}
        self.devices: str | None = None  # set when sentence-transformers encodes on several devices (a pool)
        self.last_used = 0.0  # when this profiler last recorded an encode call (the newest record wins)
        self._tokens = 0
        self._tokens_known = False
        st = _sentence_transformer(model)
        self._st = st
        # our own input modules count their tokens (`tokens_seen`); others are read by a forward hook
        self._hook = None
        if st is not None and len(st) > 0 and not hasattr(st[0], "tokens_seen"):
            self._hook = st[0].register_forward_hook(self._count_tokens)

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
            self._hook = self._st[0].register_forward_hook(self._count_tokens)

    def _count_tokens(self, module: Any, args: tuple, output: Any) -> None:
        features = args[0] if args else {}
        count = _token_count(features) if isinstance(features, dict) else None
        if count is not None:
            self._tokens += count
            self._tokens_known = True

    def _tokens_seen(self) -> int | None:
        first = self._st[0] if self._st is not None and len(self._st) else None
        return getattr(first, "tokens_seen", None)

    def _producers(self) -> dict[str, int] | None:
        """Sentences returned so far per worker that computed them (the layer-wise encoder keeps the count)."""
        first = self._st[0] if self._st is not None and len(self._st) else None
        producers = getattr(first, "producers", None)
        return dict(producers) if producers is not None else None

    def _cache_hits(self) -> int | None:
        """Sentences the layer-wise encoder served from its vector cache (None for other encoders)."""
        first = self._st[0] if self._st is not None and len(self._st) else None
        return getattr(first, "cache_hits", None)

    @property
    def model_name(self) -> str | None:
        meta = getattr(self.model, "mteb_model_meta", None)
        return meta.name if meta is not None else None

    @property
    def model_revision(self) -> str | None:
        meta = getattr(self.model, "mteb_model_meta", None)
        return meta.revision if meta is not None else None

    def _device_dtype(self) -> tuple[str | None, str | None]:
        st = self._st
        if st is None:
            return None, None
        try:
            param = next(st.parameters())
            return str(param.device), str(param.dtype).removeprefix("torch.")
        except StopIteration:
            return str(st.device), None

    def wrap(self, encode: Callable[..., Any]) -> Callable[..., Any]:
        def profiled_encode(inputs: Any, *args: Any, **kwargs: Any) -> Any:
            task = kwargs.get("task_metadata")
            key = (getattr(task, "name", "?"), str(kwargs.get("hf_split", "?")), str(kwargs.get("hf_subset", "?")))
            record = self.records.get(key)
            cuda = _cuda()
            if record is None:
                record = self._new_record(key, task, kwargs)
                self.records[key] = record
                if cuda is not None:
                    cuda.reset_peak_memory_stats()
            sentences = len(getattr(inputs, "dataset", ()) or ())
            self._tokens, self._tokens_known = 0, False
            hits_before = self._cache_hits()
            seen_before = self._tokens_seen()
            producers_before = self._producers()
            with _RssPeak() as rss:
                if cuda is not None:
                    cuda.synchronize()
                start = time.perf_counter()
                out = encode(inputs, *args, **kwargs)
                if cuda is not None:
                    cuda.synchronize()
                elapsed = time.perf_counter() - start
            if not self.first_call_done:
                self.first_call_done = True
                record["includes_warmup"] = True
                record["warmup_seconds"] = elapsed
            self.last_used = time.monotonic()
            record["encode_calls"] += 1
            record["sentences"] += sentences
            record["encode_seconds"] += elapsed
            if seen_before is not None:
                self._tokens, self._tokens_known = self._tokens_seen() - seen_before, True
            if self._tokens_known:
                record["tokens"] = (record["tokens"] or 0) + self._tokens
            if hits_before is not None:
                record["vector_cache_hits"] = (record.get("vector_cache_hits") or 0) + self._cache_hits() - hits_before
            if producers_before is not None:
                after, produced = self._producers() or {}, record["produced_by"] or {}
                for worker, count in after.items():
                    if count > producers_before.get(worker, 0):
                        produced[worker] = produced.get(worker, 0) + count - producers_before.get(worker, 0)
                record["produced_by"] = dict(sorted(produced.items()))
            record["peak_rss_mb"] = max(record["peak_rss_mb"] or 0.0, rss.peak)
            self._check_constant(key, record, out)
            if cuda is not None:
                record["peak_gpu_allocated_mb"] = cuda.max_memory_allocated() / 2**20
                record["peak_gpu_reserved_mb"] = cuda.max_memory_reserved() / 2**20
            self._finish(record)
            return out

        profiled_encode.__wrapped__ = encode  # type: ignore[attr-defined]
        return profiled_encode

    def _check_constant(self, key: tuple[str, str, str], record: dict[str, Any], out: Any) -> None:
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
        record["constant_embeddings"] = same and record.get("constant_embeddings") is not False

    def _new_record(self, key: tuple[str, str, str], task: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        device, dtype = self._device_dtype()
        meta = getattr(self.model, "mteb_model_meta", None)
        return {
            "model": getattr(meta, "name", None),
            "revision": getattr(meta, "revision", None),
            "task": key[0],
            "split": key[1],
            "subset": key[2],
            "pair_task": getattr(task, "type", None) in PAIR_TASK_TYPES,
            "sentences": 0,
            "pairs": None,
            "tokens": None,
            "encode_calls": 0,
            "encode_seconds": 0.0,
            "seconds_per_pair": None,
            "sentences_per_second": None,
            "tokens_per_second": None,
            "peak_gpu_allocated_mb": None,
            "peak_gpu_reserved_mb": None,
            "peak_rss_mb": None,
            "model_load_seconds": self.load_seconds,
            "vector_cache_hits": None,
            "includes_warmup": False,
            "warmup_seconds": None,
            "device": self.devices or device,
            "dtype": dtype,
            "worker": worker_label(),
            "produced_by": None,
            "constant_embeddings": None,
            "batch_size": kwargs.get("batch_size"),
            "versions": _versions(),
        }

    @staticmethod
    def _finish(record: dict[str, Any]) -> None:
        seconds = record["encode_seconds"]
        if record["pair_task"]:
            record["pairs"] = record["sentences"] // 2
            record["seconds_per_pair"] = seconds / record["pairs"] if record["pairs"] else None
        record["sentences_per_second"] = record["sentences"] / seconds if seconds > 0 else None
        if record["tokens"] is not None and seconds > 0:
            record["tokens_per_second"] = record["tokens"] / seconds


def profile(model: Any, load_seconds: float | None = None) -> Any:
    """Wrap ``model`` (an MTEB encoder) in place; a model already profiled is returned unchanged."""
    if getattr(model, "_rwkv_mteb_profiler", None) is not None:
        return model
    profiler = Profiler(model, load_seconds)
    model.encode = profiler.wrap(model.encode)
    model._rwkv_mteb_profiler = profiler
    _active.add(profiler)
    return model


def _records_for(task_name: str, model_name: str | None, revision: str | None) -> list[dict[str, Any]]:
    return [
        dict(record)  # oldest first: a later run of the same model in this process overrides an earlier one
        for profiler in sorted(_active, key=lambda p: p.last_used)
        if profiler.model_name == model_name and (revision is None or profiler.model_revision in (None, revision))
        for key, record in profiler.records.items()
        if key[0] == task_name and record["encode_calls"] > 0
    ]


def write_profiles(result_path: Path, records: list[dict[str, Any]], model_name: str | None, task_name: str) -> Path:
    """Merge this run's records into the task's profile file (atomic replace). A corrupt profile file is moved
    aside (named in a warning), never silently overwritten."""
    path = profile_path(result_path)
    existing: dict[str, Any] = {}
    if path.is_file():
        try:
            existing = ProfileFile.model_validate(read_json(path, "profile", "it was moved aside")).model_dump()
        except (CorruptFileError, ValidationError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            path.replace(aside)
            logger.warning("%s (to %s); a new profile is written", exc, aside)
    merged = {(r["split"], r["subset"]): r for r in existing.get("records", []) if isinstance(r, dict)}
    merged.update({(r["split"], r["subset"]): r for r in records})
    payload = ProfileFile(
        schema_version=SCHEMA_VERSION, model=model_name, task=task_name, records=[merged[k] for k in sorted(merged)]
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
    name = model if isinstance(model, str) else getattr(model, "name", None)
    revision = None if isinstance(model, str) else getattr(model, "revision", None)
    task_name = task_result.task_name
    records = _records_for(task_name, name, revision)
    _stable_model_meta(result_path.parent)
    if not records:
        return
    write_profiles(result_path, records, name, task_name)
    splits = sorted({r["split"] for r in records} & set(task_result.scores))
    log_commands(result_path, name or "?", revision, task_name, splits)

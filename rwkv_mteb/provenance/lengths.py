"""Input lengths as the profiling hook records them: each input's token count before any cut, how many inputs
an encoder cut to its maximum length (and by how many tokens), and encode calls grouped by their longest input.

Our own input modules (the layer-wise encoder, GloVe) log the length of every input they tokenize
(``input_lengths``) and say where they cut (``max_input_tokens``: a transformers backbone's maximum positions;
None for RWKV, which carries its state across any length). For a sentence-transformers ``Transformer`` module the
hook tokenizes the texts MTEB passed once more without truncation and compares with ``max_seq_length`` (an
instruction prefix that sentence-transformers adds is not counted). Any other encoder: lengths unknown, null.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from rwkv_mteb.provenance.records import LengthBucket, ProfileRecord

BOUNDS = tuple(2**k for k in range(5, 16))  # 32 ... 32,768 tokens


def bucket_of(tokens: int) -> int | None:
    """The smallest bound holding ``tokens``; None beyond the last."""
    index = bisect_left(BOUNDS, tokens)
    return BOUNDS[index] if index < len(BOUNDS) else None


def logged_so_far(first: Any) -> int | None:
    log = getattr(first, "input_lengths", None)
    return len(log) if log is not None else None


def call_lengths(first: Any, inputs: Any, before: int | None) -> tuple[list[int], int | None] | None:
    """This call's input lengths and the encoder's cut (None: no limit), or None when it cannot be told."""
    if before is not None:
        return list(first.input_lengths[before:]), getattr(first, "max_input_tokens", None)
    tokenizer, limit = getattr(first, "tokenizer", None), getattr(first, "max_seq_length", None)
    if tokenizer is None or not callable(tokenizer) or not isinstance(limit, int):
        return None
    try:
        texts = [text for batch in inputs for text in batch["text"]]
    except (TypeError, KeyError):
        return None
    ids = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"] if texts else []
    return [len(x) for x in ids], limit


def add_lengths(record: ProfileRecord, lengths: list[int], limit: int | None, peaks: Any) -> None:
    """Fold one encode call into the split's record: longest input, cuts, and its length bucket."""
    if not lengths:
        return
    record.max_input_tokens = limit
    record.longest_input_tokens = max(record.longest_input_tokens or 0, max(lengths))
    cut = [n - limit for n in lengths if limit is not None and n > limit]
    record.truncated_inputs = (record.truncated_inputs or 0) + len(cut)
    record.truncated_tokens = (record.truncated_tokens or 0) + sum(cut)
    bound = bucket_of(max(lengths))
    buckets = {b.up_to_tokens: b for b in record.by_length or []}
    bucket = buckets.get(bound) or LengthBucket(
        up_to_tokens=bound, calls=0, inputs=0, tokens=0, seconds=0.0, seconds_per_input=None,
        tokens_per_second=None, peak_rss_mb=0.0, peak_gpu_allocated_mb=None,
    )  # fmt: skip
    bucket.calls += 1
    bucket.inputs += len(lengths)
    bucket.tokens += sum(lengths)
    bucket.seconds += peaks.seconds
    bucket.peak_rss_mb = max(bucket.peak_rss_mb, peaks.rss_mb)
    if peaks.gpu_allocated_mb is not None:
        bucket.peak_gpu_allocated_mb = max(bucket.peak_gpu_allocated_mb or 0.0, peaks.gpu_allocated_mb)
    buckets[bound] = bucket
    record.by_length = sorted(buckets.values(), key=lambda b: b.up_to_tokens or 2**62)


def finish_lengths(record: ProfileRecord, computed_here: bool) -> None:
    """Rates per bucket, only when this evaluation computed every vector (else a read-back time is no speed)."""
    for bucket in record.by_length or []:
        ok = computed_here and bucket.seconds > 0
        bucket.seconds_per_input = bucket.seconds / bucket.inputs if ok else None
        bucket.tokens_per_second = bucket.tokens / bucket.seconds if ok else None

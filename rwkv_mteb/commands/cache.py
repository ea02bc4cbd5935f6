"""`rwkv-mteb cache`: list, inspect and remove what the vector cache holds, with sizes."""

from __future__ import annotations

import argparse
import time

from pydantic import ByteSize

from rwkv_mteb.cache import folder as cache_folder
from rwkv_mteb.config import CACHE_MAX_VAR, cache_dir, cache_max_bytes
from rwkv_mteb.errors import RwkvMtebError


def _size(n: float) -> str:
    """Decimal units, as disks are sold (and as RWKV_MTEB_CACHE_MAX reads them)."""
    return ByteSize(int(n)).human_readable(decimal=True)


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def _cache(args: argparse.Namespace) -> None:
    """List, inspect and remove what the vector cache holds."""
    folder = cache_dir() / "vectors"
    action = args.action or "list"
    if action == "list":
        entries = cache_folder.list_entries(folder)
        limit = cache_max_bytes()
        print(f"vector cache {folder} (limit: {_size(limit) if limit else f'none, set {CACHE_MAX_VAR}'})")
        header = (
            f"{'entry':<14}{'model':<40}{'dtype':<10}{'method':<12}{'sentences':>10}{'bytes':>11}{'per sentence':>14}"
        )
        print(header + "  last used")
        for e in entries:
            for m in e.methods:
                model = e.about.get("model", "(unrecorded)")
                print(
                    f"{e.name[:12]:<14}{model[:39]:<40}{e.about.get('dtype', '?'):<10}{m.method:<12}{m.rows:>10,}"
                    f"{_size(m.bytes):>11}{m.bytes / max(m.rows, 1):>14,.0f}  {_when(m.last_used)}"
                )
        held = sum(e.in_use_bytes for e in entries)
        rows = sum(e.rows for e in entries)
        per = f", {held / rows:,.0f} bytes per sentence with keys and index" if rows else ""
        print(f"{len(entries)} file(s), {rows:,} sentence(s), {_size(held)} held{per}")
        return
    if action == "inspect":
        for e in cache_folder.find_entries(folder, args.entry):
            print(f"{e.name}\n  file: {e.path} ({_size(e.file_bytes)} on disk, {_size(e.in_use_bytes)} held)")
            for key, value in sorted(e.about.items()):
                print(f"  {key}: {value}")
            for m in e.methods:
                print(f"  method {m.method}: {m.rows:,} sentences, {_size(m.bytes)}, last used {_when(m.last_used)}")
            if args.verify:
                checked, bad = cache_folder.verify(e)
                print(f"  verified: {checked:,} rows, {bad} failing their checksum (recomputed when next needed)")
        return
    if args.all:
        targets = cache_folder.list_entries(folder)
    elif args.entries:
        targets = [e for selector in args.entries for e in cache_folder.find_entries(folder, selector)]
    else:
        raise RwkvMtebError("say what to remove: entries (as `rwkv-mteb cache list` names them), a model, or --all")
    for e in targets:
        removed = cache_folder.remove(e, args.method)
        what = f"the {args.method!r} rows" if args.method else "the whole file"
        print(f"removed {what} of {e.name} ({e.about.get('model', '?')}): {removed:,} sentence(s)")


def add_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="List, inspect and remove the cached sentence vectors (with their sizes)")
    actions = p.add_subparsers(dest="action")
    actions.add_parser("list", help="every cached model and method, with sizes (the default)")
    inspect = actions.add_parser("inspect", help="one entry: what produced it, its methods, sizes, integrity")
    inspect.add_argument("entry", help="an entry (its file name or unique start) or a model name")
    inspect.add_argument("--verify", action="store_true", help="check every row's checksum (reads every byte)")
    remove = actions.add_parser("remove", help="delete entries, or only one method's rows of them")
    remove.add_argument("entries", nargs="*", help="entries (file names or unique starts) or model names")
    remove.add_argument("--method", help="only the rows of this method (e.g. a pooling: mean, max, ...)")
    remove.add_argument("--all", action="store_true", help="every entry")
    p.set_defaults(func=_cache)

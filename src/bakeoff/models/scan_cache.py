"""The stores' listing, kept while nothing under them has changed.

Every `Registry.resolve` lists every model (a name may be short, an alias, or clash with another),
and a listing walks every store: Ollama's manifests, each Hugging Face repo's snapshots, LM Studio's
folders. A listing here remembers a stamp (mtime and size) of each folder it listed and each small
file it read, taken before reading; the next listing with the same roots reuses it while every
stamp still matches. A file that appears, disappears or is renamed changes its folder's stamp; a
manifest rewritten in place changes its own. Folders changed within the last two seconds are never
trusted (coarse file-system clocks), so a change in the same tick as the listing is not missed.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from .ref import ModelRef
from .sources import Scan, watching

KEEP = 8   # listings kept (one per BAKEOFF_HOME and set of store folders; tests make many)

_cache: OrderedDict[Hashable, tuple[list[ModelRef], Scan]] = OrderedDict()
_lock = threading.Lock()


def cached_listing(key: Hashable, scan_stores: Callable[[Scan], list[ModelRef]]) -> tuple[list[ModelRef], list[str]]:
    """(refs, notes) of `scan_stores`, run again only when something it looked at has changed.
    Callers get copies: the registry folds duplicates into the refs it is given."""
    with _lock:
        hit = _cache.get(key)
    if hit is None or not hit[1].unchanged():
        scan = Scan()
        with watching(scan):
            hit = (scan_stores(scan), scan)
        with _lock:
            _cache[key] = hit
            _cache.move_to_end(key)
            while len(_cache) > KEEP:
                _cache.popitem(last=False)
    return copy.deepcopy(hit[0]), list(hit[1].notes)


def clear() -> None:
    with _lock:
        _cache.clear()

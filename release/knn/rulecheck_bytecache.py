"""A least-recently-used cache bounded by the size of what it keeps, not by its entry count.

functools.lru_cache(maxsize=1024) keyed by a cell's source holds 1024 sources whatever their
size: 1024 multi-MB cells (and their parse trees, highlighted HTML) are gigabytes. This one
counts the characters of its string arguments (what its values grow with), keeps at most
`max_chars` of them, and never keeps one call that alone would take more than an eighth.
"""
from __future__ import annotations

import functools
from collections import OrderedDict, namedtuple

CacheInfo = namedtuple("CacheInfo", "hits misses entries chars max_chars")


def _cost(args: tuple) -> int:
    return sum(len(a) for a in args if isinstance(a, (str, bytes))) + 1


def bytes_cache(max_chars: int):
    """Decorator: cache fn(*args) (positional, hashable arguments) within max_chars."""
    def decorate(fn):
        store: OrderedDict = OrderedDict()
        stats = {"hits": 0, "misses": 0, "chars": 0}

        @functools.wraps(fn)
        def cached(*args):
            if args in store:
                store.move_to_end(args)
                stats["hits"] += 1
                return store[args]
            stats["misses"] += 1
            value = fn(*args)
            cost = _cost(args)
            if cost <= max_chars // 8:
                store[args] = value
                stats["chars"] += cost
                while stats["chars"] > max_chars:
                    old, _ = store.popitem(last=False)
                    stats["chars"] -= _cost(old)
            return value

        def cache_clear() -> None:
            store.clear()
            stats.update(hits=0, misses=0, chars=0)

        cached.cache_clear = cache_clear
        cached.cache_info = lambda: CacheInfo(stats["hits"], stats["misses"], len(store), stats["chars"], max_chars)
        return cached
    return decorate

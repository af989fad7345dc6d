"""One SQLAlchemy engine per gradebook for a grading worker's life.

nbgrader opens a new `Gradebook` in every step that touches the database (13 a notebook in
autograde + feedback) and each one made a new engine: 13 ms to start it (create_engine, the
table inspection) and an empty compiled-statement cache, so every query was compiled again
(~0.17 s a notebook in a worker, measured with cProfile). Workers call `share_engines()`
once: nbgrader's `create_engine` then hands back the engine already made for that URL.
`Gradebook.close()` still disposes it, which only empties its connection pool; the next
Gradebook reconnects (SQLite: a file open) and keeps the compiled statements.
Reads and writes are unchanged: each Gradebook still has its own session and commits.
"""
from __future__ import annotations

import functools

import nbgrader.api
from sqlalchemy import create_engine


@functools.lru_cache(maxsize=8)
def _engine(url: str, **options):
    return create_engine(url, **options)


def shared_engine(url, **options):
    """create_engine, once per (URL, options) in this process."""
    return _engine(str(url), **options)


def share_engines() -> None:
    """Make nbgrader's Gradebook reuse engines (nbgrader 0.9.6 calls nbgrader.api.create_engine)."""
    nbgrader.api.create_engine = shared_engine

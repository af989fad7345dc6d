"""One SQLAlchemy engine per gradebook for a grading worker's life.

nbgrader opens a new `Gradebook` in every step that touches the database (13 a notebook in
autograde + feedback), and each one made a new engine (an empty compiled-statement cache, so
every query was compiled again: ~0.17 s a notebook under cProfile), checked every table
(create_all) and the course row: 13.8 ms a Gradebook, then 4.2 ms with a shared engine.
Workers call `share_engines()` once. The first Gradebook of a database in the process is
nbgrader's own (tables, alembic version, course row); later ones bind a new session to the
same engine and skip those checks (their answer cannot change while the worker grades).
`Gradebook.close()` still disposes the engine, which only empties its connection pool.
Reads and writes are unchanged: each Gradebook has its own session and commits.

A new gradebook is stamped with the head revision of nbgrader's migrations, which nbgrader
asks a subprocess for (`alembic heads`: 5-6 s here, paid once per fresh course); workers read
it with alembic's own API in-process instead (~0.2 s).
"""
from __future__ import annotations

import functools
from pathlib import Path

import nbgrader.api
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

_NBGRADER_INIT = nbgrader.api.Gradebook.__init__
NBGRADER_ALEMBIC_VERSION = nbgrader.api.get_alembic_version  # nbgrader's own (a subprocess)
_READY: set = set()  # (URL, course id) whose tables and course row nbgrader has checked here


@functools.lru_cache(maxsize=8)
def _engine(url: str, **options):
    return create_engine(url, **options)


def shared_engine(url, **options):
    """create_engine, once per (URL, options) in this process."""
    return _engine(str(url), **options)


def _warm_init(self, db_url: str, course_id: str = "default_course", authenticator=None) -> None:
    if (str(db_url), course_id) not in _READY:
        _NBGRADER_INIT(self, db_url, course_id, authenticator)
        _READY.add((str(db_url), course_id))
        return
    self.engine = shared_engine(db_url, echo=False, future=True)  # what nbgrader's __init__ binds
    self.db = scoped_session(sessionmaker(autoflush=True, bind=self.engine, future=True))
    self.course_id, self.authenticator = course_id, authenticator


@functools.lru_cache(maxsize=1)
def alembic_head() -> str:
    """What nbgrader.api.get_alembic_version returns, without its `alembic heads` subprocess."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.api.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def share_engines() -> None:
    """Make nbgrader's Gradebook reuse engines (nbgrader 0.9.6: nbgrader.api.create_engine) and
    stamp new gradebooks without a subprocess (nbgrader.api.get_alembic_version)."""
    nbgrader.api.create_engine = shared_engine
    nbgrader.api.Gradebook.__init__ = _warm_init
    nbgrader.api.get_alembic_version = alembic_head

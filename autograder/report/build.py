"""Write reports/index.html from a graded course folder; the `make grade` step that does it."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

from . import classdata, page


def write_report(root: Path) -> Path:
    """Read the course's gradebook and reports/, write reports/index.html (atomically)."""
    data = classdata.load(root)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    path = root / "reports" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page.render(data, stamp), encoding="utf-8")
    os.replace(tmp, path)
    return path


def class_report(run) -> None:
    """pipeline step: the page for the staff. The grades are already written: a failure here
    is reported and leaves them alone (`make report` shows the whole error)."""
    start = time.perf_counter()
    try:
        path = write_report(run.course.root)
    except Exception as exc:  # noqa: BLE001 (reported; grades.csv and reports/*.csv stand)
        run.log(f"warning: the class report was not written: {type(exc).__name__}: {exc}")
        return
    run.log(f"class report: {path} ({time.perf_counter() - start:.1f} s)")

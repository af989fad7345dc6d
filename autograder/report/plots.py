"""The report's pictures: matplotlib figures as PNG data URIs (the page needs no other file)."""
from __future__ import annotations

import base64
import io

from .stats import ItemRate

WIDTH, DPI = 5.2, 90  # inches, dots per inch: ~470 px wide, a few kB each


def _figure(height: float):
    import matplotlib
    matplotlib.use("Agg")  # no display: the report is written by make, not shown
    from matplotlib import pyplot as plt
    return plt, *plt.subplots(figsize=(WIDTH, height), dpi=DPI)


def _data_uri(plt, fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram(scores: list[float], max_score: float) -> str:
    """Score histogram, bins one point wide (up to 20 bins) from 0 to the maximum."""
    plt, fig, ax = _figure(2.4)
    top = max([max_score, *scores, 1.0])
    bins = min(20, max(1, int(round(top))))
    ax.hist(scores, bins=bins, range=(0, top), color="#3b6ea5", edgecolor="white")
    ax.set_xlabel("score (points)")
    ax.set_ylabel("students")
    ax.set_xlim(0, top)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _data_uri(plt, fig)


def pass_rates(rates: list[ItemRate]) -> str:
    """One horizontal bar per item: the share of submitted notebooks that passed it."""
    plt, fig, ax = _figure(0.6 + 0.28 * max(1, len(rates)))
    names = [r.item for r in rates][::-1]
    values = [100 * r.rate for r in rates][::-1]
    ax.barh(range(len(names)), values, color=["#2e8b57" if v >= 50 else "#c0504d" for v in values])
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("passed (% of submitted notebooks)")
    return _data_uri(plt, fig)

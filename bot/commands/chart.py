"""The /trend chart: daily counts as a PNG bar chart, drawn with matplotlib's Agg backend (no display).

``matplotlib.figure.Figure`` is used directly rather than ``pyplot``, so drawing keeps no global state and
is safe from a worker thread. matplotlib is imported on first use: it is slow to import and only /trend
needs it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def trend_png(keyword: str, series: Sequence[tuple[str, int]]) -> bytes:
    """A PNG (900×360 px) of ``series`` — ``[(YYYY-MM-DD, count), …]`` — titled with ``keyword``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days: list[Any] = [date.fromisoformat(d) for d, _ in series]
    counts = [n for _, n in series]
    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(days, counts, width=0.8, color="#3498db", edgecolor="#2c81ba", linewidth=0.5)
    total = sum(counts)
    title = keyword if len(keyword) <= 60 else keyword[:59] + "…"
    ax.set_title(
        f"“{title}”: {total} item{'s' if total != 1 else ''} in {len(days)} days",
        fontsize=11,
    )
    ax.set_ylabel("items per day")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.set_ylim(bottom=0, top=max([1, *counts]) * 1.15)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate(rotation=30)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()

"""The daily spend chart: one bar per day of the month, as a PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

# Pixel size of the chart: 10 x 4 inches at 100 dpi, wide enough for 31 labelled bars.
WIDTH_INCHES = 10
HEIGHT_INCHES = 4
DPI = 100


def render_daily_chart(
    daily: Sequence[tuple[date, Decimal]], title: str, baseline_per_day: Decimal | None = None
) -> bytes:
    """Return a PNG bar chart of ``daily`` amounts, with the baseline's daily share as a line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    try:
        days = [day.day for day, _ in daily]
        # Decimal to float only here, for drawing; every figure shown as text stays Decimal.
        amounts = [float(amount) for _, amount in daily]
        axes.bar(days, amounts, color="#4878a8", width=0.8)
        if baseline_per_day is not None:
            axes.axhline(float(baseline_per_day), color="#c0504d", linestyle="--", linewidth=1)
        axes.set_title(title)
        axes.set_xlabel("day of month (UTC)")
        axes.set_ylabel("USD")
        axes.set_xticks(days)
        axes.tick_params(axis="x", labelsize=7)
        axes.set_xlim(0.4, len(days) + 0.6)
        figure.tight_layout()
        buffer = io.BytesIO()
        # A fixed bounding box, so the PNG is always WIDTH x HEIGHT pixels.
        figure.savefig(buffer, format="png", dpi=DPI)
    finally:
        plt.close(figure)
    return buffer.getvalue()

"""The daily chart PNG and the renderings' limits."""

from __future__ import annotations

import io
import struct
from dataclasses import replace
from decimal import Decimal

import numpy as np
from matplotlib import image

from tests.reports.fixtures import november_inputs
from watchdog.reports.chart import render_daily_chart
from watchdog.reports.figures import ServiceCost, build_report
from watchdog.reports.render import SLACK_MAX_BLOCKS, SLACK_MAX_SECTION_TEXT, to_markdown, to_slack, to_text

BAR_RGB = (0x48, 0x78, 0xA8)


def png_size(data: bytes) -> tuple[int, int]:
    """Read width and height from the PNG header (the IHDR chunk)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def count_bars(data: bytes) -> int:
    """Count the separate columns of bar-coloured pixels, so bars above and below zero both count."""
    pixels = np.asarray(image.imread(io.BytesIO(data), format="png"))[:, :, :3]
    is_bar = np.all(np.abs(pixels * 255 - np.array(BAR_RGB)) < 3, axis=2)
    columns = is_bar.any(axis=0)
    starts = np.flatnonzero(columns[1:] & ~columns[:-1])
    return len(starts) + int(columns[0])


def test_chart_has_one_bar_per_day() -> None:
    report = build_report(november_inputs())
    positive = [(day, abs(amount)) for day, amount in report.daily]

    png = render_daily_chart(positive, "November 2026", baseline_per_day=Decimal("8.33"))

    assert png_size(png) == (1000, 400)
    assert count_bars(png) == 30
    assert 10_000 < len(png) < 200_000


def test_chart_for_february_has_28_bars() -> None:
    days = [(day, Decimal("1.00")) for day, _ in build_report(november_inputs()).daily[:28]]

    png = render_daily_chart(days, "February")

    assert count_bars(png) == 28


def test_slack_rendering_keeps_limits() -> None:
    report = build_report(november_inputs())
    many = [ServiceCost(f"Service {'x' * 200} {i}", Decimal(i), Decimal(0), Decimal(i)) for i in range(100)]
    crowded = replace(report, top_services=many, alerts_sent={f"rule_{i:03d}" * 20: i for i in range(200)})

    fallback, blocks = to_slack(crowded)

    assert len(blocks) <= SLACK_MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= SLACK_MAX_SECTION_TEXT for b in blocks if b["type"] == "section")
    assert len(fallback) < 4000
    assert fallback.endswith("(truncated)")


def test_text_and_markdown_mention_key_figures() -> None:
    report = build_report(november_inputs())

    text = to_text(report)
    markdown = to_markdown(report)

    assert "Total: $295.00 (still estimated)" in text
    assert "Baseline: $250.00 (118.0% of baseline)" in text
    assert "Uptime: 99.10%" in text
    assert "MemoryMax=450M" in text
    assert markdown.startswith("# Monthly summary for 2026-11\n")
    assert "- Latency: p50 30.0 ms, p99 80.0 ms" in markdown
    assert "```yaml\nresources:" in markdown

"""Slack messages stay within Slack's limits and state what is new, resolved or folded."""

from __future__ import annotations

from datetime import timedelta

from tests.alerts.conftest import START
from watchdog.alerts.floodguard import Digest
from watchdog.alerts.render import (
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
    TEXT_LIMIT,
    AlertLine,
    GroupNotice,
    escape,
    fit_text,
    render_digest,
    render_flapping,
    render_group,
)

SOURCE = "inference-watchdog on host-a (inference)"


def line(index: int, summary: str | None = None) -> AlertLine:
    return AlertLine(
        rule="queue_depth",
        severity="warning",
        summary=summary or f"queue depth {index}",
        labels={"client": f"c{index}"},
        since=START,
    )


def section_texts(payload: dict[str, object]) -> list[str]:
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_small_group_lists_each_alert() -> None:
    notice = GroupNotice(route="default", group="queue_depth", firing=(line(1), line(2)))

    payload = render_group(notice, SOURCE)

    assert payload["text"] == (
        "[FIRING:2] queue_depth (inference-watchdog on host-a (inference))\n"
        "[WARNING] queue depth 1 (queue_depth)\n"
        "[WARNING] queue depth 2 (queue_depth)"
    )
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING:2] queue_depth"},
    }
    assert section_texts(payload)[0] == (
        ":warning: *queue depth 1*\n`client=c1`\nwarning · queue_depth · since 2026-03-02 09:00:00 UTC"
    )


def test_huge_group_fits_slack_limits() -> None:
    long_summary = "x" * 5_000
    firing = tuple(line(i, long_summary if i == 0 else None) for i in range(300))
    resolved = tuple(line(i) for i in range(300, 400))
    notice = GroupNotice(route="default", group="queue_depth", firing=firing, resolved=resolved)

    payload = render_group(notice, SOURCE)

    sections = section_texts(payload)
    assert len(payload["blocks"]) <= MAX_BLOCKS
    assert len(payload["text"]) <= TEXT_LIMIT
    assert max(len(text) for text in sections) <= SECTION_TEXT_LIMIT
    assert payload["text"].splitlines()[1] == "[WARNING] " + "x" * 289 + "…"
    assert payload["text"].endswith("more")
    assert "…and 279 more" in sections
    assert "…and 79 more" in sections


def test_resolved_and_still_firing_are_shown() -> None:
    done = AlertLine("latency_p99", "warning", "p99 1200 ms", {}, {}, START, START + timedelta(minutes=5))
    notice = GroupNotice(
        route="default", group="latency_p99", resolved=(done,), still_firing=(line(1), line(2))
    )

    payload = render_group(notice, SOURCE)

    assert payload["text"].startswith("[RESOLVED:1] latency_p99")
    assert section_texts(payload)[0].startswith(":white_check_mark: *p99 1200 ms*")
    context = payload["blocks"][-1]["elements"][0]["text"]
    assert context.endswith("2 already announced and still firing")


def test_mrkdwn_control_characters_escaped() -> None:
    assert escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"


def test_fit_text_counts_what_is_left_out() -> None:
    text = fit_text("head", ["a" * 10] * 10, limit=60)

    assert text == "head\n" + "\n".join(["a" * 10] * 4) + "\n…and 6 more"
    assert len(text) == 60


def test_digest_counts_by_rule() -> None:
    digest = Digest(
        target="#alerts",
        window_start=START,
        window_end=START + timedelta(minutes=10),
        sent=20,
        total=190,
        counts={("queue_depth", "warning", "firing"): 150, ("error_rate", "critical", "firing"): 40},
        samples=("client 3 retrying",),
    )

    payload = render_digest(digest, SOURCE)

    assert payload["text"] == (
        "[DIGEST] 190 more alert notifications for #alerts in 10m "
        "(inference-watchdog on host-a (inference))\n"
        "150 x queue_depth firing (warning)\n40 x error_rate firing (critical)"
    )
    assert "*By rule:*\n150 x queue_depth firing (warning)" in section_texts(payload)[1]


def test_flapping_notice_names_hold() -> None:
    payload = render_flapping(line(1), 6, timedelta(minutes=10), timedelta(minutes=10), SOURCE)

    assert payload["text"] == (
        "[FLAPPING] queue_depth: queue depth 1 changed state 6 times in 10m; held until stable "
        "for 10m (inference-watchdog on host-a (inference))"
    )

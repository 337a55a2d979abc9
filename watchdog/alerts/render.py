"""Slack messages of the alert engine: Block Kit blocks plus fallback text, within Slack's limits.

Slack's documented limits for ``chat.postMessage`` and incoming webhooks:
``text`` under 4,000 characters, at most 50 blocks, section text at most
3,000 characters, header text at most 150. Lists that do not fit end with
"and N more". The payloads are plain JSON-able dicts, frozen into the outbox
as they are returned here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from watchdog.alerts.floodguard import Digest
from watchdog.config.types import format_duration

TEXT_LIMIT = 3_999
MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3_000
HEADER_TEXT_LIMIT = 150
# Blocks kept free for the header, dividers, the "and N more" line and the context.
_RESERVED_BLOCKS = 6
_TEXT_LINE_LIMIT = 300

_SEVERITY_ICON = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
_RESOLVED_ICON = ":white_check_mark:"


@dataclass(frozen=True)
class AlertLine:
    """One alert as a message shows it."""

    rule: str
    severity: str
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, str] = field(default_factory=dict)
    since: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class GroupNotice:
    """One message of a group: newly firing and resolved alerts, and those still firing."""

    route: str
    group: str
    firing: tuple[AlertLine, ...] = ()
    resolved: tuple[AlertLine, ...] = ()
    still_firing: tuple[AlertLine, ...] = ()
    repeat: bool = False


def escape(text: str) -> str:
    """Escape the three characters that Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "unknown"


def _labels_text(labels: Mapping[str, str]) -> str:
    return " ".join(f"`{escape(key)}={escape(value)}`" for key, value in sorted(labels.items()))


def _alert_section_text(line: AlertLine, resolved: bool) -> str:
    icon = _RESOLVED_ICON if resolved else _SEVERITY_ICON.get(line.severity, ":bell:")
    parts = [f"{icon} *{escape(line.summary)}*"]
    labels = _labels_text(line.labels)
    if labels:
        parts.append(labels)
    when = f"since {_time(line.since)}"
    if resolved:
        when = f"resolved {_time(line.resolved_at)} (firing since {_time(line.since)})"
    parts.append(f"{line.severity} · {escape(line.rule)} · {when}")
    for key, value in sorted(line.details.items()):
        parts.append(f"{escape(key)}: {escape(value)}")
    return truncate("\n".join(parts), SECTION_TEXT_LIMIT)


def _alert_text_line(line: AlertLine, resolved: bool) -> str:
    prefix = "RESOLVED" if resolved else line.severity.upper()
    # One very long summary must not push every other alert out of the text.
    return truncate(f"[{prefix}] {line.summary} ({line.rule})", _TEXT_LINE_LIMIT)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_LIMIT)}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, HEADER_TEXT_LIMIT)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 300)}]}


def fit_text(head: str, lines: Sequence[str], limit: int = TEXT_LIMIT) -> str:
    """Join ``head`` and as many ``lines`` as fit in ``limit`` characters, then "and N more"."""
    text = head
    for index, line in enumerate(lines):
        remaining = len(lines) - index
        tail = f"\n…and {remaining} more"
        candidate = f"{text}\n{line}"
        is_last = index == len(lines) - 1
        if len(candidate) + (0 if is_last else len(tail)) > limit:
            return truncate(text + tail, limit)
        text = candidate
    return truncate(text, limit)


def fit_sections(sections: Sequence[str], room: int) -> list[dict[str, Any]]:
    """Return at most ``room`` section blocks, the last saying "and N more" when some do not fit."""
    if len(sections) <= room:
        return [_section(text) for text in sections]
    kept = sections[: room - 1]
    more = len(sections) - len(kept)
    return [_section(text) for text in kept] + [_section(f"…and {more} more")]


def render_group(notice: GroupNotice, source: str) -> dict[str, Any]:
    """Render one group message: what is new, what resolved, and how many still fire."""
    counts = []
    if notice.firing:
        counts.append(f"{'FIRING' if not notice.repeat else 'STILL FIRING'}:{len(notice.firing)}")
    if notice.resolved:
        counts.append(f"RESOLVED:{len(notice.resolved)}")
    title = f"[{', '.join(counts)}] {notice.group}"

    blocks: list[dict[str, Any]] = [_header(title)]
    text_lines: list[str] = []
    room = MAX_BLOCKS - _RESERVED_BLOCKS
    firing_sections = [_alert_section_text(line, resolved=False) for line in notice.firing]
    resolved_sections = [_alert_section_text(line, resolved=True) for line in notice.resolved]
    # Resolved alerts get at most half the room when there are firing ones too.
    resolved_share = min(len(resolved_sections), room // 2) if firing_sections else room
    firing_blocks = fit_sections(firing_sections, room - resolved_share) if firing_sections else []
    blocks.extend(firing_blocks)
    if resolved_sections:
        if firing_blocks:
            blocks.append({"type": "divider"})
        blocks.extend(fit_sections(resolved_sections, room - len(firing_blocks)))
    text_lines.extend(_alert_text_line(line, resolved=False) for line in notice.firing)
    text_lines.extend(_alert_text_line(line, resolved=True) for line in notice.resolved)

    context = [source, f"route {notice.route}"]
    if notice.still_firing:
        context.append(f"{len(notice.still_firing)} already announced and still firing")
    if notice.repeat:
        context.append("repeated because these alerts still fire")
    blocks.append(_context(" · ".join(escape(part) for part in context)))
    head = f"{title} ({source})"
    return {"text": fit_text(head, text_lines), "blocks": blocks}


def render_flapping(
    line: AlertLine, changes: int, window: timedelta, stable_for: timedelta, source: str
) -> dict[str, Any]:
    """Render the one notice sent when an alert starts flapping."""
    title = f"[FLAPPING] {line.rule}"
    body = (
        f":repeat: *{escape(line.summary)}* changed state {changes} times in "
        f"{format_duration(window)}. Its notifications are held until it keeps one state for "
        f"{format_duration(stable_for)}.\n{_labels_text(line.labels)}"
    )
    text = (
        f"{title}: {line.summary} changed state {changes} times in {format_duration(window)}; "
        f"held until stable for {format_duration(stable_for)} ({source})"
    )
    return {
        "text": truncate(text, TEXT_LIMIT),
        "blocks": [_header(title), _section(body), _context(escape(source))],
    }


def render_digest(digest: Digest, source: str) -> dict[str, Any]:
    """Render the digest of what a target's budget folded in one window."""
    window = format_duration(digest.window_end - digest.window_start)
    title = f"[DIGEST] {digest.total} more alert notifications for {digest.target}"
    intro = (
        f":package: {digest.target} received its budget of {digest.sent} messages in the "
        f"{window} from {_time(digest.window_start)}; {digest.total} more notifications were "
        "folded into this digest."
    )
    ordered = sorted(digest.counts.items(), key=lambda item: (-item[1], item[0]))
    count_lines = [
        f"{count} x {escape(rule)} {state} ({severity})"
        for (rule, severity, state), count in ordered
    ]
    blocks: list[dict[str, Any]] = [_header(title), _section(escape(intro))]
    # One section of counts, cut at the section limit with "and N more".
    blocks.append(_section(fit_text("*By rule:*", count_lines, SECTION_TEXT_LIMIT)))
    if digest.samples:
        samples = [f"• {escape(sample)}" for sample in digest.samples]
        blocks.append(_section(fit_text("*Examples:*", samples, SECTION_TEXT_LIMIT)))
    blocks.append(_context(escape(source)))
    plain_counts = [
        f"{count} x {rule} {state} ({severity})" for (rule, severity, state), count in ordered
    ]
    return {"text": fit_text(f"{title} in {window} ({source})", plain_counts), "blocks": blocks}

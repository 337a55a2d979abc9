"""Render the production example config (deploy/config.example.toml) from the settings model.

``python -m watchdog.config.example deploy/config.example.toml`` rewrites the
file, and a test fails when the file and the model disagree. Every setting
is written with its description as a comment. A setting with a default
reads ``key = default``, and one that is unset by default is a commented
example. A secret is only a comment naming where it is set instead.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterator, Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from watchdog.config.model import ENV_PREFIX, Settings
from watchdog.config.types import format_duration, parse_byte_size

WIDTH = 79

HEADER = """\
inference-watchdog configuration for a production host.

Generated from the settings model by `python -m watchdog.config.example
deploy/config.example.toml`; do not edit by hand. deploy/install.sh copies it
to /etc/inference-watchdog/config.toml on the first install. Every setting is
listed with its default; a line that starts with '#' is unset and shows an
example. docs/configuration.md lists the same settings with their types.

Secrets do not belong in this file. Put the Slack bot token in
/etc/inference-watchdog/credentials/slack.bot_token (mode 0600, owned by
root): the unit's LoadCredential= hands it to the daemon as the systemd
credential slack.bot_token. AWS credentials come from the standard boto3
chain, on EC2 from the instance profile (see deploy/iam-policy.json).
"""

# Values that differ from the model's defaults because this file is for a real host.
PRODUCTION_VALUES: dict[str, Any] = {
    "mode": "production",
    # The same directory as StateDirectory= in the unit, so that 'status' and
    # 'worker restart' run from a shell find the daemon's database.
    "state_dir": "/var/lib/inference-watchdog",
    "supervision.memory.limit": "2GiB",
}

# Commented examples of settings that are unset by default.
UNSET_EXAMPLES: dict[str, Any] = {
    "host_name": "inference-1",
    "database_url": "sqlite:////var/lib/inference-watchdog/watchdog.db",
    "aws.endpoint_url": "http://127.0.0.1:5000",
    "report.channel": "#inference-costs",
    "worker.model_cache_dir": "/var/cache/inference-watchdog",
    "worker.pool_size": 2,
    "worker.intra_op_threads": 2,
    "spend.baseline_amount": "420.00",
    "spend.fixed_daily_cost": "3.50",
    "metrics.alarms.sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:inference-alarms",
    "supervision.command": [
        "/opt/inference/venv/bin/python",
        "-m",
        "inference_server",
        "--port",
        "{port}",
    ],
    "supervision.working_directory": "/opt/inference",
    "supervision.environment": {"OMP_NUM_THREADS": "2"},
    "supervision.health_url": "http://127.0.0.1:{port}/healthz",
    "supervision.metrics_url": "http://127.0.0.1:{port}/metrics",
    "supervision.pid_file": "/run/inference/worker.pid",
    "supervision.systemd_unit": "inference-worker.service",
    "supervision.memory.limit_share": 0.8,
    "supervision.memory.cgroup_parent": "/sys/fs/cgroup/system.slice/inference-watchdog.service",
    "alerts.rules.expected_peak_rps": 50.0,
    "alerts.default_route.target": "#inference-alerts",
}

# One route, as a commented [[alerts.routes]] table after the [alerts] keys.
EXAMPLE_ROUTE = """\
[[alerts.routes]]
name = "pager"
severities = ["critical"]
target = "#oncall"
group_wait = "10s"
"""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_UNIT_SIZES = (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def _comment(text: str) -> list[str]:
    """Wrap ``text`` into comment lines; blank lines of ``text`` stay paragraph breaks."""
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        if lines:
            lines.append("#")
        flat = " ".join(paragraph.split())
        lines.extend("# " + line for line in textwrap.wrap(flat, WIDTH - 2, break_on_hyphens=False))
    return lines


def _section_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(arg) for arg in get_args(annotation))


def _is_byte_size(field: FieldInfo) -> bool:
    return any(getattr(item, "func", None) is parse_byte_size for item in field.metadata)


def _format_byte_size(value: int) -> str | int:
    for unit, size in _UNIT_SIZES:
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return value


def _toml_value(value: Any, field: FieldInfo | None) -> Any:  # noqa: PLR0911 - one return per kind of value
    """Convert a setting's value to what the config file accepts for it."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return _toml_value(value.model_dump(mode="json", by_alias=True, exclude_none=True), None)
    if isinstance(value, Decimal | Path | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    if isinstance(value, int) and not isinstance(value, bool) and field is not None and _is_byte_size(field):
        return _format_byte_size(value)
    if isinstance(value, tuple | list):
        return [_toml_value(item, None) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _toml_value(item, None) for key, item in value.items()}
    return value


def _inline(value: Any) -> str:
    """Format a value as TOML on one line: arrays and tables inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string of printable text is also a valid TOML basic string.
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{_key(key)} = {_inline(item)}" for key, item in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(f"no TOML form for {value!r} ({type(value).__name__})")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _assignment(key: str, value: Any) -> str:
    return f"{_key(key)} = {_inline(value)}"


def _is_empty_table(value: Any) -> bool:
    # An inline '{}' would forbid a [section.key] table further down, so it stays commented.
    return isinstance(value, Mapping) and not value


def _leaf_lines(path: str, key: str, field: FieldInfo, value: Any) -> list[str]:
    lines = _comment(field.description or "")
    if _is_secret(field.annotation):
        lines += _comment(_secret_note(path, key, field.annotation))
        return lines

    if path in PRODUCTION_VALUES:
        lines.append(f"# Default: {_default_text(value, field)}.")
        lines.append(_assignment(key, PRODUCTION_VALUES[path]))
    elif value is None or _is_empty_table(value):
        example = UNSET_EXAMPLES.get(path, _placeholder(field.annotation))
        lines.append("# " + _assignment(key, _toml_value(example, field)))
    elif isinstance(value, tuple | list) and not value and _section_model(_item_type(field.annotation)):
        # An empty array of tables stays commented, so that [[...]] tables may follow it.
        lines.append("# " + _assignment(key, []))
    else:
        lines.append(_assignment(key, _toml_value(value, field)))
    return lines


def _secret_note(path: str, key: str, annotation: Any) -> str:
    if get_origin(annotation) is not dict:
        source = f"the systemd credential {path} or {ENV_PREFIX}{path.upper().replace('.', '__')}"
    else:
        # CredentialsSource nests a file named slack.webhooks.NAME into the mapping.
        source = f"systemd credentials named {path}.NAME (one LoadCredential= line each)"
    return f"{key} is a secret and is not written here: the daemon reads it from {source}."


def _default_text(value: Any, field: FieldInfo) -> str:
    if value is None:
        return "unset"
    return _assignment("x", _toml_value(value, field)).removeprefix("x = ")


def _item_type(annotation: Any) -> Any:
    args = get_args(annotation)
    return args[0] if args else None


def _placeholder(annotation: Any) -> Any:
    """Return an example value for a setting unset by default that has no entry in UNSET_EXAMPLES."""
    kinds = [arg for arg in get_args(annotation) if arg is not type(None)] or [annotation]
    kind = get_origin(kinds[0]) or kinds[0]
    placeholders: dict[Any, Any] = {int: 0, float: 0.0, bool: False, list: [], tuple: [], dict: {}}
    return placeholders.get(kind, "")


def _table(path: str, model: type[BaseModel], instance: BaseModel | None) -> Iterator[str]:
    """Yield the lines of one table and, after it, of its sub-tables, depth first."""
    leaves: list[str] = []
    subtables: list[tuple[str, type[BaseModel], BaseModel]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        dotted = f"{path}.{key}" if path else key
        section = _section_model(field.annotation)
        value = getattr(instance, name) if instance is not None else _field_default(field)
        if section is not None:
            subtables.append((dotted, section, value))
            continue
        leaves.append("")
        leaves.extend(_leaf_lines(dotted, key, field, value))
        if dotted == "alerts.routes":
            leaves.append("")
            leaves.extend(_comment(
                "An example route: critical alerts to #oncall. Routes are tried in order, and "
                "the first whose 'rules' and 'severities' match takes the alert; the keys of "
                "[alerts.default_route] may be set per route."
            ))
            leaves.extend("# " + line for line in EXAMPLE_ROUTE.splitlines())

    if path:
        yield ""
        yield f"[{path}]"
        doc = (model.__doc__ or "").strip().split("\n\n")[0]
        yield from _comment(doc)
    yield from leaves
    for dotted, section, value in subtables:
        yield from _table(dotted, section, value)


def _field_default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        if getattr(field.default_factory, "__name__", "") == "gethostname":
            # This host's name must not end up in a file meant for other hosts.
            return None
        return field.default_factory()  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return None
    return field.default


def render() -> str:
    """Return the whole example config as TOML text."""
    lines = _comment(HEADER)
    lines.extend(_table("", Settings, None))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write the example config to the path in ``argv``, or print it."""
    text = render()
    if len(argv) > 1:
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

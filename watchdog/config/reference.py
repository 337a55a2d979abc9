"""Render the settings reference (docs/configuration.md) from the settings model.

``python -m watchdog.config.reference docs/configuration.md`` rewrites the
file; a test fails when the file and the model disagree.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from watchdog.config.model import ENV_PREFIX, Settings
from watchdog.config.types import format_duration

HEADER = f"""# Configuration reference

Generated from the settings model by `python -m watchdog.config.reference
docs/configuration.md`; do not edit by hand.

Every setting can be written in the TOML config file
(`/etc/inference-watchdog/config.toml` or `--config PATH`), as an environment
variable (`{ENV_PREFIX}` followed by the path in capitals, sections joined
by `__`, such as `{ENV_PREFIX}AWS__REGION`), or, for secrets, as a systemd
credential named by its dotted path (such as `slack.bot_token`).
Durations take seconds or a string like `10s`, `5m`, `4h`; sizes take
bytes or a string like `512MiB`. Environment variables override the file.
"""


def _section_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type_name(annotation: Any) -> str:  # noqa: PLR0911 - one return per kind of annotation
    origin = get_origin(annotation)
    if annotation is timedelta:
        return "duration"
    if annotation is SecretStr:
        return "secret"
    if origin is None:
        return getattr(annotation, "__name__", str(annotation))
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    name = getattr(origin, "__name__", str(origin))
    if name == "Literal":
        return " \\| ".join(json.dumps(arg) for arg in get_args(annotation))
    if name in {"Union", "UnionType"}:
        return " or ".join(_type_name(arg) for arg in args) + (
            " (optional)" if len(args) < len(get_args(annotation)) else ""
        )
    if name == "Annotated":
        return _type_name(args[0])
    return f"{name}[{', '.join(_type_name(arg) for arg in args)}]"


def _default(field: FieldInfo) -> str:  # noqa: PLR0911 - one return per kind of default
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
        if isinstance(value, BaseModel):
            return "(section)"
        if getattr(field.default_factory, "__name__", "") == "gethostname":
            return "(this host's name)"
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, SecretStr):
        return "unset"
    return f"`{json.dumps(value, default=str)}`"


def _rows(model: type[BaseModel], prefix: str) -> tuple[list[str], list[tuple[str, type[BaseModel]]]]:
    rows = []
    sections = []
    for name, field in model.model_fields.items():
        # The file and the environment use the alias where there is one ("for", a Python keyword).
        path = f"{prefix}{field.alias or name}"
        section = _section_model(field.annotation)
        if section is not None:
            sections.append((path, section))
            continue
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
    return rows, sections


def render() -> str:
    """Return the whole reference as Markdown."""
    parts = [HEADER]
    queue: list[tuple[str, type[BaseModel]]] = [("", Settings)]
    while queue:
        prefix, model = queue.pop(0)
        rows, sections = _rows(model, f"{prefix}." if prefix else "")
        title = f"`[{prefix}]`" if prefix else "Top level"
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        parts.append(f"\n## {title}\n")
        if doc and prefix:
            parts.append(f"{doc}\n")
        if rows:
            parts.append("| setting | type | default | meaning |\n| --- | --- | --- | --- |")
            parts.extend(rows)
        queue.extend(sections)
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    """Write the reference to the path in ``argv``, or print it."""
    text = render()
    if len(argv) > 1:
        Path(argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

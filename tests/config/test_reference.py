"""docs/configuration.md is generated from the settings model and must match it."""

from __future__ import annotations

from pathlib import Path

from watchdog.config.model import Settings
from watchdog.config.reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_matches_model() -> None:
    expected = render()

    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is stale: run .venv/bin/python -m watchdog.config.reference "
        "docs/configuration.md"
    )


def test_every_setting_is_documented() -> None:
    text = render()

    for name in Settings.model_fields:
        assert f"`{name}`" in text or f"`[{name}]`" in text, name
    assert "(this host's name)" in text

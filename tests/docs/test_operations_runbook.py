"""docs/operations.md has a runbook entry for every alert rule the daemon can raise.

The rule names are read from the source, not from a list in this test: every
``AlertEvent(rule=...)`` in the package is resolved to the names it can take.
A rule given as a module constant is that constant's value. A rule passed
through a parameter or an attribute (``rule=rule``, ``rule=reading.rule``)
can be any string constant of the same module that some call in the package
passes as an argument, such as ``Reading(LATENCY_P99, ...)`` or
``alerts.fire(RULE_DOWN, ...)``. Other expressions, such as
``str(document["rule"])``, rebuild a stored event and add no name.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = REPOSITORY / "watchdog"
RUNBOOK = REPOSITORY / "docs" / "operations.md"


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Return the module-level ``NAME = "text"`` assignments of a module."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value
    return constants


def call_argument_names(trees: dict[Path, ast.Module]) -> set[str]:
    """Return the names (bare or as ``module.NAME``) passed as an argument to any call."""
    names = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            for argument in arguments:
                if isinstance(argument, ast.Name):
                    names.add(argument.id)
                elif isinstance(argument, ast.Attribute):
                    names.add(argument.attr)
    return names


def rule_expressions(tree: ast.Module) -> list[ast.expr]:
    """Return the ``rule=`` argument of every ``AlertEvent(...)`` call in a module."""
    expressions = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
        if name != "AlertEvent":
            continue
        expressions.extend(keyword.value for keyword in node.keywords if keyword.arg == "rule")
    return expressions


@functools.cache
def alert_rule_names() -> frozenset[str]:
    """Return every rule name an ``AlertEvent`` in the package can carry."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")}
    passed = call_argument_names(trees)
    rules = set()
    for tree in trees.values():
        constants = string_constants(tree)
        for expression in rule_expressions(tree):
            if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
                rules.add(expression.value)
            elif isinstance(expression, ast.Name) and expression.id in constants:
                rules.add(constants[expression.id])
            elif isinstance(expression, ast.Name | ast.Attribute):
                rules.update(value for name, value in constants.items() if name in passed)
    return frozenset(rules)


def runbook_headings() -> set[str]:
    """Return the names in backticks of the runbook's headings."""
    text = RUNBOOK.read_text(encoding="utf-8")
    return set(re.findall(r"^#{2,4} `([a-z0-9_]+)`", text, flags=re.MULTILINE))


def test_rule_names_found_in_code() -> None:
    rules = alert_rule_names()

    # One rule of each producer, so that a collector finding nothing cannot pass.
    assert {"worker_down", "latency_p99", "spool_growing", "spend_threshold"} <= rules
    assert len(rules) >= 14


def test_every_alert_rule_has_runbook_entry() -> None:
    rules = alert_rule_names()

    missing = sorted(rules - runbook_headings())

    assert missing == [], f"alert rules without a '### `RULE`' heading in docs/operations.md: {missing}"


def test_runbook_names_only_real_rules() -> None:
    rules = alert_rule_names()

    # The heading pattern skips command headings such as `inference-watchdog worker restart`.
    unknown = sorted(runbook_headings() - rules)

    assert unknown == [], f"runbook headings that name no alert rule: {unknown}"

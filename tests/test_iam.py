"""deploy/iam-policy.json lists exactly the IAM actions declared beside the AWS calls."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from watchdog.iam import declared_actions, import_all_modules, requires_iam

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "deploy" / "iam-policy.json"

# boto3 service name -> IAM service prefix, for every AWS service the daemon calls.
SERVICES = {"cloudwatch": "cloudwatch", "ce": "ce"}

# Code that only seeds the embedded stand-ins on 127.0.0.1 (such as the simulated bill
# written into moto's AWS/Billing namespace); it never reaches AWS, so the policy omits it.
STAND_IN_PACKAGES = ("watchdog/embedded/",)

# boto3 client methods that are not AWS operations.
CLIENT_HELPERS = frozenset({"get_paginator", "get_waiter", "can_paginate", "close"})


def policy_actions() -> set[str]:
    document = json.loads(POLICY.read_text(encoding="utf-8"))
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def operation_actions() -> dict[str, str]:
    """Map each snake_case boto3 method of the daemon's services to its IAM action."""
    session = botocore.session.get_session()
    actions: dict[str, str] = {}
    for service, prefix in SERVICES.items():
        for operation in session.get_service_model(service).operation_names:
            actions[xform_name(operation)] = f"{prefix}:{operation}"
    return actions


def declared_in(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Return the actions named by a ``@requires_iam(...)`` decorator on ``function``."""
    actions: set[str] = set()
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Name)
            and decorator.func.id == "requires_iam"
        ):
            actions.update(arg.value for arg in decorator.args if isinstance(arg, ast.Constant))
    return actions


class CallChecker(ast.NodeVisitor):
    """Finds boto3 operation calls outside functions declaring their action.

    A nested function (such as a closure passed to a retry helper) runs on
    behalf of the function around it and shares its declarations.
    """

    def __init__(self, operations: dict[str, str], path: Path) -> None:
        self.operations = operations
        self.path = path
        self.declared: list[set[str]] = [set()]
        self.problems: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.declared.append(self.declared[-1] | declared_in(node))
        self.generic_visit(node)
        self.declared.pop()

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            action = self.operations.get(method)
            if method not in CLIENT_HELPERS and action is not None and action not in self.declared[-1]:
                relative = self.path.relative_to(ROOT)
                self.problems.append(f"{relative}:{node.lineno} {method} needs {action}")
        self.generic_visit(node)


def aws_calls_outside_declarations() -> list[str]:
    """Return each boto3 operation call in watchdog/ whose function does not declare its action."""
    operations = operation_actions()
    problems = []
    for path in sorted((ROOT / "watchdog").rglob("*.py")):
        if str(path.relative_to(ROOT)).startswith(STAND_IN_PACKAGES):
            continue
        checker = CallChecker(operations, path)
        checker.visit(ast.parse(path.read_text(encoding="utf-8")))
        problems.extend(checker.problems)
    return problems


def test_policy_lists_exactly_the_declared_actions() -> None:
    import_all_modules()
    declared = set(declared_actions())

    assert policy_actions() == declared


def test_every_aws_call_sits_in_a_declaring_function() -> None:
    assert aws_calls_outside_declarations() == []


def test_declarations_name_their_functions() -> None:
    import_all_modules()
    declarations = declared_actions()

    assert declarations["cloudwatch:PutMetricData"] == {
        "watchdog.metrics.publisher.CloudWatchPublisher.send_batch"
    }
    assert declarations["ce:GetCostAndUsage"] == {
        "watchdog.spend.cost_explorer.CostExplorerReader._call"
    }


def test_malformed_action_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid IAM action 'PutMetricData'"):
        requires_iam("PutMetricData")

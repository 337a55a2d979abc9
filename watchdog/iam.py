"""The IAM actions that the daemon's AWS calls need, declared beside each call.

Every function that calls an AWS API is decorated with the IAM action that
the call requires::

    @requires_iam("cloudwatch:PutMetricData")
    def send_batch(self, batch: list[MetricDatum]) -> None:
        self._client.put_metric_data(...)

The decorator records the action in a registry at import time.
``deploy/iam-policy.json`` must list exactly the registered actions: the
test suite imports every module of the package, compares the two lists, and
also checks that each boto3 operation called in the source sits inside a
function that declares the matching action.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# An IAM action is "<service prefix>:<ActionName>", e.g. "cloudwatch:PutMetricData".
_ACTION = re.compile(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+")

# Action -> qualified names of the functions that declared it.
_DECLARATIONS: dict[str, set[str]] = {}


def requires_iam(*actions: str) -> Callable[[F], F]:
    """Declare the IAM actions that the decorated function's AWS calls need."""
    if not actions:
        raise ValueError(
            "requires_iam needs at least one action such as 'cloudwatch:PutMetricData'"
        )
    for action in actions:
        if not _ACTION.fullmatch(action):
            raise ValueError(
                f"invalid IAM action {action!r}: expected 'service:ActionName', "
                "such as 'cloudwatch:PutMetricData'"
            )

    def decorate(func: F) -> F:
        name = f"{func.__module__}.{func.__qualname__}"
        for action in actions:
            _DECLARATIONS.setdefault(action, set()).add(name)
        func.__iam_actions__ = tuple(actions)  # type: ignore[attr-defined]
        return func

    return decorate


def declared_actions() -> dict[str, frozenset[str]]:
    """Return every action declared so far, with the functions that declared it."""
    return {action: frozenset(names) for action, names in sorted(_DECLARATIONS.items())}


def import_all_modules(package: str = "watchdog") -> list[str]:
    """Import every module under ``package`` so that all declarations are registered.

    ``__main__`` modules are skipped: importing one runs the program.
    """
    root = importlib.import_module(package)
    imported = [package]
    for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if module.name.rsplit(".", 1)[-1] == "__main__":
            continue
        importlib.import_module(module.name)
        imported.append(module.name)
    return imported

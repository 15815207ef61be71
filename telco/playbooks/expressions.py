"""Path lookup, argument templates and conditions over a run's namespace (no eval, ever)."""
from __future__ import annotations

import re
from typing import Any

from telco.playbooks.spec import Condition, When

_REF = re.compile(r"\{([a-zA-Z_][\w.]*)\}")
_MISSING = object()


def lookup(namespace: dict[str, Any], path: str) -> Any:
    node: Any = namespace
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else _MISSING
        else:
            node = getattr(node, part, _MISSING)
        if node is _MISSING:
            return None
    return node


def render(value: Any, namespace: dict[str, Any]) -> Any:
    """Fill {path} references. A string that is exactly one reference keeps the referenced value's type."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return lookup(namespace, whole.group(1))
        return _REF.sub(lambda m: "" if (v := lookup(namespace, m.group(1))) is None else str(v), value)
    if isinstance(value, dict):
        return {k: render(v, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, namespace) for v in value]
    return value


def _check(cond: Condition | When, namespace: dict[str, Any]) -> bool:
    actual = lookup(namespace, cond.path or "")
    expected = render(cond.value, namespace)
    match cond.op:
        case "eq":
            return actual == expected
        case "ne":
            return actual != expected
        case "lt" | "le" | "gt" | "ge":
            if actual is None or expected is None:
                return False
            return {"lt": actual < expected, "le": actual <= expected,
                    "gt": actual > expected, "ge": actual >= expected}[cond.op]
        case "in":
            return actual in (expected or [])
        case "not_in":
            return actual not in (expected or [])
        case "truthy":
            return bool(actual)
        case "falsy":
            return not actual
        case "empty":
            return not actual
        case "nonempty":
            return bool(actual)
    raise ValueError(f"unknown operator {cond.op!r}")


def holds(when: When, namespace: dict[str, Any]) -> bool:
    if when.all is not None:
        return all(_check(c, namespace) for c in when.all)
    if when.any is not None:
        return any(_check(c, namespace) for c in when.any)
    return _check(when, namespace)

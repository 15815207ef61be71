"""Prompt registry: versions with status, exactly one active per role, metrics, history, rollback."""
from __future__ import annotations

import pytest

from memory.prompts import PromptRegistry
from telco.errors import InvalidInput, NotFound


@pytest.fixture
def reg(store, writer, clock):
    return PromptRegistry(store, writer, clock=clock)


def test_one_active_version_per_role_with_history(reg, clock):
    reg.register("planner", "You plan.", status="active")
    reg.register("planner", "You plan carefully.")
    reg.register("dialogue", "You talk.", status="active")
    assert reg.active("planner").version == 1 and [c.version for c in reg.candidates("planner")] == [2]
    clock.advance(minutes=5)
    reg.activate("planner", 2)
    hist = reg.history("planner")
    assert [(p.version, p.status) for p in hist] == [(1, "retired"), (2, "active")]
    assert hist[0].retired_at == clock.now and hist[1].activated_at == clock.now
    assert reg.active("dialogue").version == 1  # other roles untouched
    clock.advance(minutes=5)
    assert reg.rollback("planner").version == 1
    assert [p.status for p in reg.history("planner")] == ["active", "retired"]


def test_metrics_merge_per_version(reg):
    reg.register("planner", "v1", status="active")
    reg.record_metrics("planner", 1, {"pass_rate": 0.8, "n": 20})
    got = reg.record_metrics("planner", 1, {"pass_rate": 0.85})
    assert got.metrics == {"pass_rate": 0.85, "n": 20.0}
    with pytest.raises(InvalidInput, match="must be a number"):
        reg.record_metrics("planner", 1, {"pass_rate": "high"})


def test_invalid_operations_are_typed_errors(reg):
    with pytest.raises(NotFound, match="no active prompt"):
        reg.active("planner")
    reg.register("planner", "v1", status="active")
    with pytest.raises(InvalidInput, match="activate another version"):
        reg.retire("planner", 1)
    reg.register("planner", "v2")
    assert reg.retire("planner", 2).status == "retired"
    with pytest.raises(InvalidInput, match="lowercase name"):
        reg.register("Planner!", "x")
    with pytest.raises(InvalidInput, match="non-empty text"):
        reg.register("planner", " ")
    with pytest.raises(NotFound):
        reg.activate("planner", 7)
    with pytest.raises(InvalidInput, match="no previously active"):
        reg.rollback("planner")

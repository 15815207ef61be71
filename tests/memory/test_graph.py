"""Knowledge graph: evidence counts, invalidation instead of deletion, point-in-time reads, traversal."""
from __future__ import annotations

from datetime import timedelta

import pytest

from memory.graph import KnowledgeGraph
from memory_testkit import T0
from telco.errors import InvalidInput


@pytest.fixture
def kg(store, writer):
    return KnowledgeGraph(store, writer)


def test_repeated_facts_raise_evidence_instead_of_adding_edges(kg, store):
    kg.assert_fact("Overheating", "fixed_by", "move router", src_type="cause", dst_type="fix", source="ep-1", at=T0)
    f = kg.assert_fact("overheating ", "fixed_by", "Move Router", source="ep-2", at=T0 + timedelta(days=1))
    assert f.evidence_count == 2 and f.sources == ["ep-1", "ep-2"]
    assert store.table("kg_edges").count_rows() == 1


def test_a_contradicting_fact_closes_the_old_edge_and_keeps_it(kg, store):
    kg.assert_fact("CUST-1", "has_plan", "mobile 10GB", at=T0)
    kg.assert_fact("CUST-1", "has_plan", "mobile 50GB", at=T0 + timedelta(days=10))
    hist = kg.history("cust-1", "has_plan")
    assert [(f.dst, f.open) for f in hist] == [("mobile 10gb", False), ("mobile 50gb", True)]
    assert hist[0].valid_to == T0 + timedelta(days=10) and hist[0].invalidated_by == hist[1].edge_id
    assert store.table("kg_edges").count_rows() == 2
    assert [f.dst for f in kg.facts("cust-1")] == ["mobile 50gb"]
    assert [f.dst for f in kg.facts("cust-1", at=T0 + timedelta(days=5))] == ["mobile 10gb"]


def test_non_exclusive_relations_accumulate_and_can_be_invalidated(kg):
    kg.assert_fact("overheating", "causes", "reboots", at=T0)
    kg.assert_fact("overheating", "causes", "slow wifi", at=T0)
    assert {f.dst for f in kg.facts("overheating", relation="causes")} == {"reboots", "slow wifi"}
    assert kg.invalidate("overheating", "causes", "slow wifi", at=T0 + timedelta(hours=1), reason="disproved") == 1
    assert kg.invalidate("overheating", "causes", "slow wifi") == 0
    assert {f.dst for f in kg.facts("overheating")} == {"reboots"}
    closed = [f for f in kg.facts("overheating", include_closed=True) if not f.open]
    assert closed[0].dst == "slow wifi" and closed[0].invalidated_by == "disproved"


def test_traversal_walks_open_facts_to_a_depth(kg):
    kg.assert_fact("router", "affected_by", "overheating", at=T0, src_type="device", dst_type="cause")
    kg.assert_fact("overheating", "fixed_by", "ventilate", at=T0, dst_type="fix")
    kg.assert_fact("ventilate", "documented_in", "kb#vent", at=T0, dst_type="section")
    one = kg.traverse("router", depth=1)
    assert [(r.entity, r.depth) for r in one] == [("overheating", 1)]
    three = kg.traverse("router", depth=3)
    assert [(r.entity, r.depth, r.entity_type) for r in three] == [
        ("overheating", 1, "cause"), ("ventilate", 2, "fix"), ("kb#vent", 3, "section")]
    assert len(three[-1].path) == 3
    kg.invalidate("overheating", "fixed_by", "ventilate")
    assert [r.entity for r in kg.traverse("router", depth=3)] == ["overheating"]
    assert [r.entity for r in kg.traverse("router", depth=3, relations=["fixed_by"])] == []


def test_seed_is_idempotent_and_bad_input_is_typed(kg, tmp_path):
    n = kg.load_seed()
    assert n > 20 and kg.load_seed() == 0
    with pytest.raises(InvalidInput, match="snake_case"):
        kg.assert_fact("a", "Caused By", "b")
    with pytest.raises(InvalidInput, match="non-empty"):
        kg.assert_fact(" ", "causes", "b")
    bad = tmp_path / "seed.yaml"
    bad.write_text("- {src: a, src_type: alien, relation: causes, dst: b, dst_type: cause}\n")
    with pytest.raises(InvalidInput, match="fact 0"):
        kg.load_seed(bad)
    with pytest.raises(InvalidInput, match="depth"):
        kg.traverse("a", depth=0)

"""The playbook language: validation on load, path lookup, templates and conditions."""
import pytest
from pydantic import ValidationError

from telco.playbooks.expressions import holds, lookup, render
from telco.playbooks.spec import Playbook, When


def _book(steps):
    return {"id": "t", "version": 1, "title": "t", "description": "d", "intents": [], "service": "account",
            "steps": steps}


def test_step_needs_exactly_one_action():
    with pytest.raises(ValidationError, match="exactly one of"):
        Playbook.model_validate(_book([{"id": "a", "tool": "x", "inform": "y", "next": "b"}, {"id": "b", "end": "resolved"}]))


def test_unknown_goto_is_rejected_on_load():
    with pytest.raises(ValidationError, match="unknown step 'nowhere'"):
        Playbook.model_validate(_book([
            {"id": "a", "tool": "x", "branches": [{"when": {"path": "result.ok"}, "goto": "nowhere"}], "next": "b"},
            {"id": "b", "end": "resolved"}]))


def test_step_with_nowhere_to_go_is_rejected():
    with pytest.raises(ValidationError, match="nowhere to go"):
        Playbook.model_validate(_book([{"id": "a", "tool": "x"}, {"id": "b", "end": "resolved"}]))


def test_ask_needs_a_question():
    with pytest.raises(ValidationError, match="no question"):
        Playbook.model_validate(_book([{"id": "a", "ask": "slot", "next": "b"}, {"id": "b", "end": "resolved"}]))


def test_playbook_must_end():
    with pytest.raises(ValidationError, match="never ends"):
        Playbook.model_validate(_book([{"id": "a", "tool": "x", "next": "a"}]))


def test_lookup_walks_dicts_and_list_indexes():
    ns = {"vars": {"area": {"outages": [{"cause": "fibre cut"}]}}}
    assert lookup(ns, "vars.area.outages.0.cause") == "fibre cut"
    assert lookup(ns, "vars.area.outages.3.cause") is None
    assert lookup(ns, "vars.missing.deeper") is None


def test_render_keeps_type_for_whole_references_and_formats_inside_text():
    ns = {"scope": {"gb": 2, "id": "L-1"}}
    assert render("{scope.gb}", ns) == 2
    assert render("line {scope.id} needs {scope.gb} GB", ns) == "line L-1 needs 2 GB"
    assert render({"a": ["{scope.id}"]}, ns) == {"a": ["L-1"]}


@pytest.mark.parametrize("when,expected", [
    ({"path": "result.label", "value": "good"}, True),
    ({"path": "result.label", "op": "in", "value": ["fair", "poor"]}, False),
    ({"path": "result.mbps", "op": "lt", "value": 10}, True),
    ({"path": "result.missing", "op": "lt", "value": 10}, False),
    ({"path": "result.items", "op": "nonempty"}, False),
    ({"all": [{"path": "result.label", "value": "good"}, {"path": "result.mbps", "op": "ge", "value": 5}]}, True),
    ({"any": [{"path": "result.label", "value": "poor"}, {"path": "result.mbps", "op": "gt", "value": 5}]}, True),
])
def test_conditions(when, expected):
    ns = {"result": {"label": "good", "mbps": 8, "items": []}}
    assert holds(When.model_validate(when), ns) is expected


def test_condition_needs_one_form():
    with pytest.raises(ValidationError):
        When.model_validate({"path": "a", "all": [{"path": "b"}]})

"""The turn metrics derived from a trace, and the Grafana dashboard naming only metrics that exist."""
from __future__ import annotations

import json
import re
from pathlib import Path

from telco.contract.messages import Citation
from actors.operations.metrics import TelcoMetrics, context_use, handed_over, llm_cost, llm_tokens, turn_had_error
from telco.contract.http import TurnOut
from telco.contract.trace import AgentTrace, LlmCall, MemoryHit, ToolTrace, TurnTrace

DASHBOARD = Path(__file__).resolve().parents[2] / "serve" / "grafana" / "telco.json"
SUFFIXES = {"Counter": ("_total",), "Histogram": ("_bucket", "_sum", "_count"), "Gauge": ("",)}


def out(**trace) -> TurnOut:
    return TurnOut(turn_id="c:00001", conversation_id="c", reply="r", mode=trace.get("mode", "offline"),
                   trace=TurnTrace(**trace))


def test_every_dashboard_query_names_a_defined_metric():
    exported = {f"ray_{m._name}{suffix}" for m in vars(TelcoMetrics()).values()
                for suffix in SUFFIXES[type(m).__name__]}
    used = set(re.findall(r"ray_telco_\w+", json.dumps(json.loads(DASHBOARD.read_text()))))
    assert used and used <= exported, used - exported


def test_tokens_and_cost_from_the_trace():
    call = LlmCall(agent="intent", model="claude-sonnet-4-6", input_tokens=1000, output_tokens=200,
                   cache_read_input_tokens=500)
    o = out(llm_calls=[call, call.model_copy(update={"agent": "dialogue"})])
    assert llm_tokens(o) == 3400
    assert llm_cost(call) > 0
    assert llm_cost(call.model_copy(update={"model": "no-such-model"})) == 0.0
    assert llm_tokens(out()) == 0


def test_context_use_is_the_share_of_retrieved_items_cited():
    hits = [MemoryHit(source="semantic", ref=r) for r in ("kb#a", "kb#b", "kb#c", "kb#d")]
    o = out(memory_hits=hits + [MemoryHit(source="procedural", ref="pb@v1")])
    o.citations = [Citation(doc_id="kb", section_id="kb#a", title="t", heading="h", score=0.9)]
    assert context_use(o) == 0.25
    assert context_use(out()) is None


def test_errors_and_escalations():
    assert not turn_had_error(out(agents=[AgentTrace(agent="intent", ms=3)]))
    assert turn_had_error(out(agents=[AgentTrace(agent="intent", ms=3, attempts=2)]))
    assert turn_had_error(out(mode="degraded"))
    refusal = ToolTrace(name="apply_credit", kind="write", ok=False, error="over the goodwill limit")
    assert not turn_had_error(out(tools=[refusal]))  # a policy refusal is an answer, not a system error
    down = ToolTrace(name="get_router_status", kind="read", ok=False, error="backend is unavailable")
    assert turn_had_error(out(tools=[down]))
    moved = ToolTrace(name="transfer_to_person", kind="write", ok=True)
    assert handed_over(out(tools=[moved])) and not handed_over(out())

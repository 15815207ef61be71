"""Call records, their totals per turn / agent / conversation, budgets, the ledger, and the price table."""
from __future__ import annotations

import pytest

from telco.contract.trace import LlmCall
from telco.config import DEFAULT_PRICES_FILE, AnthropicSettings, LlmBudget, RoleModels
from telco.errors import InvalidInput
from telco.llm import Budget, CallRecord, Ledger, group_by, load_prices, totals
from telco.llm.prices import PriceTable


def rec(**kw):
    base = {"agent": "intent", "model": "claude-sonnet-4-6", "conversation_id": "K1", "turn_id": "T1"}
    return CallRecord(**{**base, **kw})


RECORDS = [
    rec(input_tokens=100, output_tokens=20, cache_read_input_tokens=900, cost_usd=0.01, ms=300, retries=1),
    rec(agent="dialogue", input_tokens=50, output_tokens=80, cache_creation_input_tokens=1000, cost_usd=0.02, ms=500),
    rec(turn_id="T2", outcome="failed", input_tokens=10, output_tokens=5, cost_usd=0.001, ms=40),
    rec(turn_id="T2", outcome="repaired", input_tokens=30, output_tokens=10, cost_usd=0.002, ms=60),
    rec(turn_id="T2", agent="dialogue", outcome="skipped"),
]


def test_totals_add_everything_and_count_only_sent_calls():
    t = totals(RECORDS)
    assert (t.calls, t.skipped, t.failed, t.repaired, t.retries) == (4, 1, 1, 1, 1)
    assert (t.input_tokens, t.output_tokens) == (190, 115)
    assert t.tokens == 190 + 115 + 900 + 1000
    assert t.cost_usd == pytest.approx(0.033) and t.ms == 900
    assert t.cache_read_share == pytest.approx(900 / (190 + 900 + 1000))
    assert totals([]).cache_read_share == 0


def test_grouping_per_turn_agent_and_conversation():
    by_turn = group_by(RECORDS, "turn_id")
    assert list(by_turn) == ["T1", "T2"]
    assert by_turn["T1"].calls == 2 and by_turn["T2"].calls == 2 and by_turn["T2"].skipped == 1
    by_agent = group_by(RECORDS, "agent")
    assert by_agent["dialogue"].output_tokens == 80 and by_agent["intent"].calls == 3
    assert group_by(RECORDS, "conversation_id")["K1"] == totals(RECORDS)
    with pytest.raises(InvalidInput, match="group_by key"):
        group_by(RECORDS, "customer")


def test_a_record_fills_the_turn_trace_entry():
    call = LlmCall(**RECORDS[3].trace_fields())
    assert (call.agent, call.outcome, call.input_tokens, call.ms) == ("intent", "repaired", 30, 60)


@pytest.mark.parametrize("limits,spent,reason", [
    (LlmBudget(max_calls=4), RECORDS, "call budget spent: 4 of 4 calls"),
    (LlmBudget(max_tokens=2205), RECORDS, "token budget spent: 2205 of 2205 tokens"),
    (LlmBudget(max_cost_usd=0.033), RECORDS, "cost budget spent: $0.0330 of $0.0330"),
    (LlmBudget(max_calls=5, max_tokens=2206, max_cost_usd=0.04), RECORDS, None),
    (LlmBudget(max_calls=0), [], "call budget spent: 0 of 0 calls"),
])
def test_budget_stops_at_each_limit(limits, spent, reason):
    assert Budget.for_conversation(limits, spent).stop_reason() == reason


def test_budget_round_trips_as_json_so_it_can_cross_a_deployment_boundary():
    b = Budget.for_conversation(LlmBudget(max_calls=3), RECORDS[:2])
    again = Budget.model_validate_json(b.model_dump_json())
    assert again == b and again.spent.calls == 2
    again.charge(RECORDS[2])
    assert again.stop_reason() == "call budget spent: 3 of 3 calls" and b.spent.calls == 2


def test_ledger_collects_a_conversations_records_and_refuses_another_conversations():
    ledger = Ledger("K1", LlmBudget(max_calls=10))
    ledger.add(RECORDS)
    assert ledger.totals().calls == 4 and ledger.budget().stop_reason() is None
    assert set(ledger.by("turn_id")) == {"T1", "T2"}
    with pytest.raises(InvalidInput, match="conversation 'K2' added to the ledger of 'K1'"):
        ledger.add([rec(conversation_id="K2")])


def test_the_shipped_price_table_prices_every_default_model():
    table = load_prices(DEFAULT_PRICES_FILE)
    s = AnthropicSettings(models=RoleModels(intent="claude-haiku-4-5"))
    for m in s.models_in_use():
        table.price(m)
    assert table.price("claude-haiku-4-5-20251001") == table.price("claude-haiku-4-5")  # aliases
    p = table.price("claude-sonnet-4-6")
    assert p.cache_read == pytest.approx(p.input * 0.1) and p.cache_write == pytest.approx(p.input * 1.25)
    cost = table.cost("claude-sonnet-4-6", input_tokens=1_000_000, output_tokens=1_000_000,
                      cache_creation_input_tokens=1_000_000, cache_read_input_tokens=1_000_000)
    assert cost == pytest.approx(p.input + p.output + p.cache_write + p.cache_read)
    with pytest.raises(InvalidInput, match="model 'claude-unknown' has no price"):
        table.cost("claude-unknown", input_tokens=1)


def test_bad_price_tables_are_refused_with_what_is_wrong(tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text("models:\n  m1: {input: -1, output: 1, cache_write: 1, cache_read: 1}\n")
    with pytest.raises(InvalidInput, match=r"models.m1.input: Input should be greater than or equal to 0"):
        load_prices(bad)
    bad.write_text("models:\n  m1: {input: 1, output: 1, cache_write: 1, cache_read: 1, aliases: [m2]}\n"
                   "  m2: {input: 1, output: 1, cache_write: 1, cache_read: 1}\n")
    with pytest.raises(InvalidInput, match="model name 'm2' is listed twice"):
        load_prices(bad)
    bad.write_text("models: [")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_prices(bad)
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_prices(tmp_path / "missing.yaml")
    assert PriceTable(models={}).models == {}

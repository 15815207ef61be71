"""The LLM layer: one Claude client for every agent, with accounting, budgets and a circuit breaker.

No Ray here: agents wrap it in their deployments. The scripted Messages API (scripted.py, loopback.py) stands in
for Claude in tests and benchmarks; nothing it reports is a measurement of Claude.
"""
from telco.llm.accounting import Budget, CallRecord, Ledger, Totals, group_by, totals
from telco.llm.breaker import Breakers, CircuitBreaker
from telco.llm.caching import SystemBlock
from telco.llm.client import Decision, LlmClient, TextStream, ToolCall
from telco.llm.prices import PriceTable, load_prices
from telco.llm.structured import LlmTool, decision_tool

__all__ = ["Budget", "CallRecord", "Ledger", "Totals", "group_by", "totals", "Breakers", "CircuitBreaker",
           "SystemBlock", "Decision", "LlmClient", "TextStream", "ToolCall", "PriceTable", "load_prices",
           "LlmTool", "decision_tool"]

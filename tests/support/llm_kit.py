"""Shared pieces of the tests/unit/test_llm_*.py files: settings, a client wired to a scripted Messages API
through the real anthropic SDK, a fake clock, and the decision schemas the tests ask for."""
from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, Field

from telco.config import AnthropicSettings, BreakerSettings, LlmBudget
from telco.llm import LlmClient
from telco.testing.cache_sim import CacheSimulator
from telco.testing.scripted_api import Reply, ScriptedMessagesApi

USER = [{"role": "user", "content": "My internet keeps dropping every 30 minutes, I work from home."}]


class IntentCall(BaseModel):
    """Name the customer's main intent and how sure you are."""

    intent: Literal["internet_drops", "no_mobile_data", "billing_question", "other"]
    confidence: float = Field(ge=0, le=1)
    needs: list[str] = []


class LineQuery(BaseModel):
    line_id: str


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


def settings(**kw: Any) -> AnthropicSettings:
    base: dict[str, Any] = {"api_key": "sk-scripted-test", "max_retries": 2,
                            "breaker": BreakerSettings(failures=3, window_s=60, open_s=30),
                            "budget": LlmBudget(max_calls=50, max_tokens=1_000_000, max_cost_usd=10)}
    return AnthropicSettings(**{**base, **kw})


def scripted(*replies: Reply, min_cacheable_tokens: int = 0, **kw: Any) -> ScriptedMessagesApi:
    return ScriptedMessagesApi(list(replies), cache=CacheSimulator(min_cacheable_tokens=min_cacheable_tokens), **kw)


def client(api: ScriptedMessagesApi, clock: Clock | None = None, **kw: Any) -> LlmClient:
    return LlmClient(settings(**kw), http_client=api.http_client(), base_url="http://scripted.invalid",
                     **({"clock": clock} if clock else {}))


def run(coro: Any) -> Any:
    return asyncio.run(coro)

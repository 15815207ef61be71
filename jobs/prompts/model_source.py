"""The model a prompt job talks to: Claude (an API key in the environment) or the scripted prompt-following model
(telco.testing.guided_model, a wiring check that measures nothing about Claude). Evaluating or rewriting a
prompt without a model would measure nothing, so asking for one without a key is a clear error, never a pass."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telco.config import AnthropicSettings, LlmBudget
from telco.llm import LlmClient
from telco.testing.scripted_api import ScriptedMessagesApi

MODELS = ("claude", "scripted-guided")
SCRIPTED_BASE_URL = "http://scripted.invalid"


class NeedsModel(SystemExit):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs a model: set ANTHROPIC_API_KEY (or TELCO_ANTHROPIC__API_KEY) to use "
                         "Claude, or pass --model scripted-guided for the scripted stand-in (a wiring check whose "
                         "figures say nothing about Claude)")


@dataclass
class ModelSource:
    name: str
    settings: AnthropicSettings
    api: ScriptedMessagesApi | None = None  # the scripted model, served in-process

    @property
    def scripted(self) -> bool:
        return self.api is not None

    def llm_client(self) -> LlmClient:
        """A fresh client (its HTTP pool belongs to the event loop that first uses it)."""
        if self.api is None:
            return LlmClient(self.settings)
        return LlmClient(self.settings, http_client=self.api.http_client(), base_url=SCRIPTED_BASE_URL)

    def sdk(self) -> Any:
        """The anthropic SDK's async client, for the Message Batches API."""
        import anthropic

        key = self.settings.api_key.get_secret_value()
        if self.api is None:
            return anthropic.AsyncAnthropic(api_key=key, base_url=self.settings.base_url,
                                            max_retries=self.settings.max_retries)
        return anthropic.AsyncAnthropic(api_key=key, base_url=SCRIPTED_BASE_URL, http_client=self.api.http_client(),
                                        max_retries=self.settings.max_retries)


def scripted_source(api: ScriptedMessagesApi) -> ModelSource:
    # A replayed conversation may take more calls than a served one would be allowed: the budget is not under test.
    settings = AnthropicSettings(api_key="sk-scripted-guided", max_retries=1,
                                 budget=LlmBudget(max_calls=200, max_tokens=10_000_000, max_cost_usd=100))
    return ModelSource("scripted-guided", settings, api)


def model_source(model: str | None, what: str, *, settings: Any = None) -> ModelSource:
    """`model`: "claude", "scripted-guided", or None (Claude when a key is set). The scripted model learns the replay
    set's customer texts later (api.labels)."""
    if model == "scripted-guided":
        from telco.testing.guided_model import guided_api

        return scripted_source(guided_api())
    if model not in (None, "claude"):
        raise SystemExit(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    if settings is None:
        from telco.config import get_settings

        settings = get_settings()
    if settings.anthropic.api_key is None:
        raise NeedsModel(what)
    return ModelSource("claude", settings.anthropic)

"""LLM settings from the environment, and what the client refuses to start with."""
from __future__ import annotations

import os

import httpx
import pytest
from llm_kit import settings

from telco.config import get_settings, load_settings
from telco.errors import InvalidInput
from telco.llm import LlmClient


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("TELCO_", "ANTHROPIC_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_models_per_role_budget_and_breaker_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TELCO_ANTHROPIC__MODEL", "claude-opus-4-6")
    monkeypatch.setenv("TELCO_ANTHROPIC__MODELS__INTENT", "claude-haiku-4-5")
    monkeypatch.setenv("TELCO_ANTHROPIC__BUDGET__MAX_COST_USD", "0.25")
    monkeypatch.setenv("TELCO_ANTHROPIC__BREAKER__OPEN_S", "5")
    monkeypatch.setenv("TELCO_ANTHROPIC__BASE_URL", "http://127.0.0.1:9999")
    a = load_settings().anthropic
    assert a.model_for("intent") == "claude-haiku-4-5" and a.model_for("dialogue") == "claude-opus-4-6"
    assert a.models_in_use() == {"claude-haiku-4-5", "claude-opus-4-6"}
    assert a.budget.max_cost_usd == 0.25 and a.budget.max_calls == 40 and a.breaker.open_s == 5
    assert a.base_url == "http://127.0.0.1:9999"


def test_a_bad_nested_value_names_its_variable(monkeypatch):
    monkeypatch.setenv("TELCO_ANTHROPIC__BREAKER__FAILURES", "0")
    with pytest.raises(InvalidInput, match=r"TELCO_ANTHROPIC__BREAKER__FAILURES \(anthropic.breaker.failures\)"):
        load_settings()
    monkeypatch.delenv("TELCO_ANTHROPIC__BREAKER__FAILURES")
    monkeypatch.setenv("TELCO_ANTHROPIC__BASE_URL", "api.anthropic.com")
    with pytest.raises(InvalidInput, match="base_url must start with http"):
        load_settings()


def test_anthropic_api_key_is_honoured_and_the_telco_variable_wins(monkeypatch):
    assert load_settings().mode == "offline"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-anthropic-var")
    s = load_settings()
    assert s.mode == "hybrid" and s.anthropic.api_key.get_secret_value() == "sk-from-anthropic-var"
    assert "sk-from-anthropic-var" not in repr(s) and "anthropic_api_key_fallback" not in s.model_dump()
    monkeypatch.setenv("TELCO_ANTHROPIC__API_KEY", "sk-from-telco-var")
    assert load_settings().anthropic.api_key.get_secret_value() == "sk-from-telco-var"


def test_the_mode_is_hybrid_with_a_key_offline_without_and_a_bad_value_is_named(monkeypatch):
    monkeypatch.setenv("TELCO_ANTHROPIC__MODE", "clever")
    with pytest.raises(InvalidInput, match=r"TELCO_ANTHROPIC__MODE \(anthropic.mode\): Input should be 'offline', "
                                           r"'hybrid' or 'llm'"):
        load_settings()
    monkeypatch.setenv("TELCO_ANTHROPIC__MODE", "llm")
    with pytest.raises(InvalidInput, match="TELCO_ANTHROPIC__MODE=llm needs an API key"):
        load_settings()
    monkeypatch.setenv("TELCO_ANTHROPIC__API_KEY", "sk-test")
    assert load_settings().mode == "llm"
    monkeypatch.setenv("TELCO_ANTHROPIC__MODE", "offline")
    assert load_settings().mode == "offline"  # a key alone does not call the model
    monkeypatch.delenv("TELCO_ANTHROPIC__MODE")
    monkeypatch.setenv("TELCO_ANTHROPIC__MODEL_WORDING", '["handoff", "closing"]')
    s = load_settings()
    assert s.mode == "hybrid" and s.anthropic.model_wording == ["handoff", "closing"]
    monkeypatch.setenv("TELCO_ANTHROPIC__MODEL_WORDING", '["poetry"]')
    with pytest.raises(InvalidInput, match=r"TELCO_ANTHROPIC__MODEL_WORDING \(anthropic.model_wording.0\)"):
        load_settings()


def test_an_unknown_role_is_a_typed_error():
    with pytest.raises(InvalidInput, match="unknown LLM role 'sales'"):
        settings().model_for("sales")


def test_the_client_refuses_to_start_without_a_key_or_with_an_unpriced_model():
    with pytest.raises(InvalidInput, match="no Anthropic API key"):
        LlmClient(settings(api_key=None))
    with pytest.raises(InvalidInput, match="model 'claude-made-up' has no price"):
        LlmClient(settings(models={"escalation": "claude-made-up"}))


def test_the_sdk_takes_an_httpx2_client_only():
    # The installed anthropic SDK is built on httpx2 and rejects an httpx client outright: inject httpx2.
    with pytest.raises(TypeError):
        LlmClient(settings(), http_client=httpx.AsyncClient())

import json
import os

import pytest

from pydantic import ValidationError

from telco.contract.http import MessageIn
from telco.contract.limits import MAX_MESSAGE_CHARS
from telco.config import DEV_API_KEYS, get_settings, load_settings
from telco.errors import InvalidInput


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("TELCO_") or name == "ANTHROPIC_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the working tree
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def keys_json(*entries):
    return json.dumps(list(entries))


STRONG = "k" * 32


def test_defaults_are_a_local_offline_development_setup():
    s = load_settings()
    assert s.env == "development"
    assert s.memory_uri == "./var/memory"
    assert (s.serve.host, s.serve.port, s.serve.url) == ("127.0.0.1", 8000, "http://127.0.0.1:8000")
    assert (s.limits.max_message_chars, s.limits.max_body_bytes, s.limits.rate_per_minute) == (4000, 65536, 600)
    assert s.mode == "offline" and s.anthropic.api_key is None
    assert [k.name for k in s.api_keys] == [k.name for k in DEV_API_KEYS]
    assert s.using_dev_keys
    assert {k.role for k in s.api_keys} == {"admin", "operations", "customer"}


def test_the_settings_cap_is_the_api_schemas_and_may_only_be_lowered():
    assert load_settings().limits.max_message_chars == MAX_MESSAGE_CHARS
    assert load_settings(limits={"max_message_chars": 500}).limits.max_message_chars == 500
    with pytest.raises(InvalidInput, match="max_message_chars"):
        load_settings(limits={"max_message_chars": MAX_MESSAGE_CHARS + 1})
    MessageIn(text="x" * MAX_MESSAGE_CHARS)
    with pytest.raises(ValidationError):
        MessageIn(text="x" * (MAX_MESSAGE_CHARS + 1))


def test_environment_overrides_nested_groups(monkeypatch):
    monkeypatch.setenv("TELCO_MEMORY_URI", "s3://bucket/memory")
    monkeypatch.setenv("TELCO_LIMITS__RATE_PER_MINUTE", "1200")
    monkeypatch.setenv("TELCO_LIMITS__MAX_MESSAGE_CHARS", "500")
    monkeypatch.setenv("TELCO_SERVE__PORT", "8123")
    monkeypatch.setenv("TELCO_SERVE__HOST", "0.0.0.0")
    monkeypatch.setenv("TELCO_ANTHROPIC__API_KEY", "sk-test")
    s = load_settings()
    assert s.memory_uri == "s3://bucket/memory"
    assert s.limits.rate_per_minute == 1200 and s.limits.max_message_chars == 500
    assert s.serve.port == 8123 and s.serve.url == "http://127.0.0.1:8123"
    assert s.mode == "hybrid"  # a key and no mode set: deterministic first, the model where it adds value
    assert "sk-test" not in repr(s)  # secrets stay out of logs


def test_dot_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("TELCO_LIMITS__MAX_BODY_BYTES=2048\n")
    assert load_settings().limits.max_body_bytes == 2048


def test_keys_from_json_replace_the_dev_keys(monkeypatch):
    monkeypatch.setenv("TELCO_API_KEYS", keys_json(
        {"key": "ops-secret-1", "role": "operations", "name": "ops"},
        {"key": "cust-secret-1", "role": "customer", "name": "app-c1002", "customer_id": "C1002",
         "rate_per_minute": 30}))
    s = load_settings()
    assert [(k.name, k.role, k.customer_id) for k in s.api_keys] == [("ops", "operations", None),
                                                                      ("app-c1002", "customer", "C1002")]
    assert not s.using_dev_keys
    assert s.rate_for(s.api_keys[0]) == 600 and s.rate_for(s.api_keys[1]) == 30


def test_keys_file_accepts_yaml_and_adds_to_env_keys(monkeypatch, tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("- {key: admin-secret-1, role: admin, name: root}\n")
    monkeypatch.setenv("TELCO_API_KEYS_FILE", str(path))
    monkeypatch.setenv("TELCO_API_KEYS", keys_json({"key": "ops-secret-1", "role": "operations", "name": "ops"}))
    assert [k.name for k in load_settings().api_keys] == ["ops", "root"]


@pytest.mark.parametrize("entries, problem", [
    ([{"key": "short", "role": "admin", "name": "a"}], "at least 8 characters"),
    ([{"key": "has space in", "role": "admin", "name": "a"}], "whitespace"),
    ([{"key": "cust-secret-1", "role": "customer", "name": "c"}], "needs customer_id"),
    ([{"key": "ops-secret-1", "role": "operations", "name": "o", "customer_id": "C1001"}], "only customer keys"),
    ([{"key": "ops-secret-1", "role": "root", "name": "o"}], "TELCO_API_KEYS (api_keys.0.role)"),
    ([{"key": "ops-secret-1", "role": "operations", "name": "o"},
      {"key": "ops-secret-2", "role": "operations", "name": "o"}], "repeated: o"),
    ([{"key": "ops-secret-1", "role": "operations", "name": "a"},
      {"key": "ops-secret-1", "role": "admin", "name": "b"}], "configured twice"),
])
def test_bad_keys_are_refused_with_the_reason(monkeypatch, entries, problem):
    monkeypatch.setenv("TELCO_API_KEYS", keys_json(*entries))
    with pytest.raises(InvalidInput, match="invalid settings") as err:
        load_settings()
    assert problem in str(err.value)


def test_keys_that_are_not_json_say_what_is_expected(monkeypatch):
    monkeypatch.setenv("TELCO_API_KEYS", "ops-secret-1")
    with pytest.raises(InvalidInput, match="must be a JSON list"):
        load_settings()


def test_keys_file_problems_name_the_file_and_entry(monkeypatch, tmp_path):
    missing = tmp_path / "nope.json"
    monkeypatch.setenv("TELCO_API_KEYS_FILE", str(missing))
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_settings()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"key": "admin-secret-1", "role": "admin", "name": "ok"}, {"role": "admin"}]))
    monkeypatch.setenv("TELCO_API_KEYS_FILE", str(bad))
    with pytest.raises(InvalidInput, match=r"entry 1: key: Field required"):
        load_settings()
    bad.write_text(json.dumps({"key": "x"}))
    with pytest.raises(InvalidInput, match="expected a list"):
        load_settings()


def test_production_never_falls_back_to_dev_keys(monkeypatch):
    monkeypatch.setenv("TELCO_ENV", "production")
    with pytest.raises(InvalidInput, match="no API keys configured"):
        load_settings()


def test_production_refuses_published_and_short_keys(monkeypatch):
    monkeypatch.setenv("TELCO_ENV", "production")
    dev_admin = DEV_API_KEYS[0].key.get_secret_value()
    monkeypatch.setenv("TELCO_API_KEYS", keys_json({"key": dev_admin, "role": "admin", "name": "a"}))
    with pytest.raises(InvalidInput, match="published development key"):
        load_settings()
    monkeypatch.setenv("TELCO_API_KEYS", keys_json({"key": "twelve-chars", "role": "admin", "name": "a"}))
    with pytest.raises(InvalidInput, match="too short for production"):
        load_settings()
    monkeypatch.setenv("TELCO_API_KEYS", keys_json({"key": STRONG, "role": "admin", "name": "a"}))
    assert load_settings().api_keys[0].name == "a"


@pytest.mark.parametrize("var, value, problem", [
    ("TELCO_LIMITS__MAX_MESSAGE_CHARS", "5000", "TELCO_LIMITS__MAX_MESSAGE_CHARS"),
    ("TELCO_LIMITS__RATE_PER_MINUTE", "0", "greater than or equal to 1"),
    ("TELCO_SERVE__PORT", "eighty", "TELCO_SERVE__PORT"),
    ("TELCO_ENV", "staging", "TELCO_ENV"),
])
def test_bad_values_name_the_variable(monkeypatch, var, value, problem):
    monkeypatch.setenv(var, value)
    with pytest.raises(InvalidInput) as err:
        load_settings()
    assert problem in str(err.value)


def test_get_settings_is_cached_until_cleared(monkeypatch):
    first = get_settings()
    monkeypatch.setenv("TELCO_SERVE__PORT", "8999")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().serve.port == 8999

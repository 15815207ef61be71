"""Settings for every process of the system, read once from the environment (prefix TELCO_) and an optional .env.

Nested groups use a double underscore: TELCO_LIMITS__RATE_PER_MINUTE=1200, TELCO_SERVE__PORT=8001.
API keys come from TELCO_API_KEYS (a JSON list) and/or TELCO_API_KEYS_FILE (a JSON or YAML list). When neither
names a key, a development deployment falls back to the well-known DEV_API_KEYS below, so `telco up` works on a
fresh clone; a production deployment (TELCO_ENV=production) refuses to start without real keys and rejects the
dev keys outright, because they are printed in the README and by `telco up`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from telco.contract.limits import MAX_MESSAGE_CHARS
from telco.contract.trace import RouteSetting
from telco.data import LLM_PRICES_FILE
from telco.errors import InvalidInput

_GROUPS = ("limits", "serve", "anthropic", "memory_s3", "memory_cache")

Role = Literal["customer", "operations", "admin"]
Environment = Literal["development", "test", "production"]
MIN_PRODUCTION_KEY_CHARS = 24


class ApiKey(BaseModel):
    """One caller of the HTTP API. `name` is what logs, traces and rate limits see; the key itself never leaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: SecretStr
    role: Role
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    customer_id: str | None = Field(default=None, pattern=r"^C\d{4,9}$")
    # Overrides limits.rate_per_minute for this key (a load generator or a partner channel may need more).
    rate_per_minute: int | None = Field(default=None, ge=1)

    @field_validator("key")
    @classmethod
    def _key_shape(cls, v: SecretStr) -> SecretStr:
        raw = v.get_secret_value()
        if len(raw) < 8:
            raise ValueError("an API key must be at least 8 characters")
        if raw != raw.strip() or any(c.isspace() for c in raw):
            raise ValueError("an API key must not contain whitespace")
        return v

    @model_validator(mode="after")
    def _customer_binding(self) -> "ApiKey":
        # A customer key without a customer would see nobody's data or, worse, be mistaken for a staff key.
        if self.role == "customer" and not self.customer_id:
            raise ValueError(f"API key {self.name!r}: a customer key needs customer_id")
        if self.role != "customer" and self.customer_id:
            raise ValueError(f"API key {self.name!r}: only customer keys are bound to a customer_id")
        return self


# Documented in README.md and printed by `telco up`; never accepted when TELCO_ENV=production.
DEV_API_KEYS: tuple[ApiKey, ...] = (
    ApiKey(key=SecretStr("dev-admin-key"), role="admin", name="dev-admin"),
    ApiKey(key=SecretStr("dev-operations-key"), role="operations", name="dev-operations"),
    ApiKey(key=SecretStr("dev-customer-c1001-key"), role="customer", customer_id="C1001", name="dev-customer-c1001"),
)
_DEV_KEY_VALUES = frozenset(k.key.get_secret_value() for k in DEV_API_KEYS)


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The API schema's own cap (telco/contract/limits.py) is the most a deployment may allow; it may only lower it.
    max_message_chars: int = Field(default=MAX_MESSAGE_CHARS, ge=1, le=MAX_MESSAGE_CHARS)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    rate_per_minute: int = Field(default=600, ge=1)


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


class MemoryCache(BaseModel):
    """The LanceDB caches of each process that opens memory (every replica, writer and holder has its own).

    LanceDB's defaults (6 GiB of index cache and 1 GiB of metadata cache per connection) let a long-lived
    process grow by every table version it sees, about 0.1 MB per commit, until those caps: a writer actor
    passed 1.5 GB in a 5,000-turn soak. Bounded here, a process stays flat.
    """

    model_config = ConfigDict(extra="forbid")

    index_mb: int = Field(default=256, ge=1, le=65536)  # opened scalar and vector indexes
    metadata_mb: int = Field(default=64, ge=1, le=65536)  # manifests, file footers, schemas


class MemoryS3(BaseModel):
    """Where an s3:// memory URI lives when it is not AWS itself (SeaweedFS, MinIO, ...), and its credentials.

    Unset fields are not passed on, so on AWS the usual AWS_* variables and instance roles still apply. Commits on
    S3 are safe with several writers because Lance commits a table version with a conditional put
    (If-None-Match: *) of the next manifest: the store itself must refuse a second writer of the same version
    (README, "Memory on S3").
    """

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None  # e.g. http://127.0.0.1:8333; None: AWS
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    region: str | None = None  # most S3-compatible stores want one; any name works for SeaweedFS
    allow_http: bool | None = None  # None: allowed exactly when the endpoint is http://

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"the S3 endpoint must be an http:// or https:// URL, got {v!r}")
        return v

    def storage_options(self) -> dict[str, str]:
        """LanceDB's storage_options (the Rust object_store's AWS keys) for what is set."""
        out: dict[str, str] = {}
        if self.endpoint:
            out["aws_endpoint"] = self.endpoint
        if self.access_key_id is not None:
            out["aws_access_key_id"] = self.access_key_id.get_secret_value()
        if self.secret_access_key is not None:
            out["aws_secret_access_key"] = self.secret_access_key.get_secret_value()
        if self.region:
            out["aws_region"] = self.region
        allow_http = self.allow_http if self.allow_http is not None else bool(
            self.endpoint and self.endpoint.startswith("http://"))
        if allow_http:
            out["allow_http"] = "true"
        return out


LlmRole = Literal["planner", "intent", "technical", "knowledge", "dialogue", "escalation"]
LLM_ROLES: tuple[str, ...] = ("planner", "intent", "technical", "knowledge", "dialogue", "escalation")
# Replies an operator may want the model to word in hybrid mode (telco/data/routing.yaml says what each means).
WordingOccasion = Literal["handoff", "closing", "knowledge", "refusal", "clarify", "every_reply"]
DEFAULT_PRICES_FILE = LLM_PRICES_FILE


class RoleModels(BaseModel):
    """A model per agent role; a role left unset uses AnthropicSettings.model."""

    model_config = ConfigDict(extra="forbid")

    planner: str | None = None
    intent: str | None = None
    technical: str | None = None
    knowledge: str | None = None
    dialogue: str | None = None
    escalation: str | None = None


class LlmBudget(BaseModel):
    """What one conversation may spend on the model before every agent falls back to its offline brain.

    tokens counts everything the model processed: input (cached or not) plus output.
    """

    model_config = ConfigDict(extra="forbid")

    max_calls: int = Field(default=40, ge=0)
    max_tokens: int = Field(default=400_000, ge=0)
    max_cost_usd: float = Field(default=1.00, ge=0)


class BreakerSettings(BaseModel):
    """Circuit breaker per model: `failures` failed calls within `window_s` open it for `open_s`, then one probe."""

    model_config = ConfigDict(extra="forbid")

    failures: int = Field(default=5, ge=1)
    window_s: float = Field(default=60.0, gt=0)
    open_s: float = Field(default=30.0, gt=0)


class AnthropicSettings(BaseModel):
    """The LLM mode. No key means every agent runs its offline brain."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None
    base_url: str | None = None  # None: the SDK's default endpoint
    model: str = Field(default="claude-sonnet-4-6", min_length=1)
    models: RoleModels = RoleModels()
    timeout_s: float = Field(default=30.0, gt=0)  # per HTTP attempt; the SDK retries a timeout like a 5xx
    max_retries: int = Field(default=2, ge=0, le=10)
    max_output_tokens: int = Field(default=1024, ge=1, le=64_000)
    budget: LlmBudget = LlmBudget()
    breaker: BreakerSettings = BreakerSettings()
    prices_file: Path = DEFAULT_PRICES_FILE
    # offline | hybrid | llm (actors/planner/route.py); unset: hybrid with an API key, offline without one
    mode: RouteSetting | None = None
    # hybrid mode: the replies the model words whatever else the turn needs; unset: telco/data/routing.yaml's list
    model_wording: list[WordingOccasion] | None = None

    @field_validator("base_url")
    @classmethod
    def _url_shape(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {v!r}")
        return v

    def model_for(self, role: str) -> str:
        if role not in LLM_ROLES:
            raise InvalidInput(f"unknown LLM role {role!r}; expected one of {', '.join(LLM_ROLES)}")
        return getattr(self.models, role) or self.model

    def models_in_use(self) -> set[str]:
        return {self.model_for(r) for r in LLM_ROLES}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELCO_", env_file=".env", env_file_encoding="utf-8",
                                      env_nested_delimiter="__", extra="ignore")

    env: Environment = "development"
    memory_uri: str = Field(default="./var/memory", min_length=1)
    memory_s3: MemoryS3 = MemoryS3()  # TELCO_MEMORY_S3__ENDPOINT, __ACCESS_KEY_ID, __SECRET_ACCESS_KEY, __REGION
    memory_cache: MemoryCache = MemoryCache()  # TELCO_MEMORY_CACHE__INDEX_MB, __METADATA_MB (per process)
    # Working-memory holders and turns-log writers, each owning the conversations that hash to it
    # (memory/shards.py; resharding: docs/write-path.md).
    memory_shards: int = Field(default=1, ge=1, le=64)
    # How often an Intent replica asks memory which example set is active (a one-row read); a published set is
    # served within about this long, with no restart (actors/agents/intent_source.py).
    intent_refresh_s: float = Field(default=2.0, gt=0, le=3600)
    api_keys: list[ApiKey] = []
    api_keys_file: Path | None = None
    limits: Limits = Limits()
    serve: ServeSettings = ServeSettings()
    anthropic: AnthropicSettings = AnthropicSettings()
    # The variable the Anthropic SDK and its docs use; TELCO_ANTHROPIC__API_KEY wins when both are set.
    anthropic_api_key_fallback: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY",
                                                         exclude=True, repr=False)

    @model_validator(mode="after")
    def _anthropic_key(self) -> "Settings":
        if self.anthropic.api_key is None and self.anthropic_api_key_fallback is not None:
            self.anthropic = self.anthropic.model_copy(update={"api_key": self.anthropic_api_key_fallback})
        if self.anthropic.mode in ("hybrid", "llm") and self.anthropic.api_key is None:
            # Said at start-up: a deployment asked for the model would otherwise run offline without a word.
            raise ValueError(f"TELCO_ANTHROPIC__MODE={self.anthropic.mode} needs an API key "
                             "(TELCO_ANTHROPIC__API_KEY or ANTHROPIC_API_KEY); set one, or use mode offline")
        return self

    @model_validator(mode="after")
    def _resolve_keys(self) -> "Settings":
        keys = list(self.api_keys)
        if self.api_keys_file is not None:
            keys += _read_keys_file(self.api_keys_file)
        if not keys:
            if self.env == "production":
                raise ValueError("no API keys configured: set TELCO_API_KEYS (a JSON list) or TELCO_API_KEYS_FILE; "
                                 "the development keys are never used in production")
            keys = list(DEV_API_KEYS)
        _check_unique(keys)
        if self.env == "production":
            _check_production_keys(keys)
        self.api_keys = keys
        return self

    @property
    def mode(self) -> RouteSetting:
        """Which path answers turns: the setting, else hybrid when an API key is set and offline without."""
        if self.anthropic.mode is not None:
            return self.anthropic.mode
        return "offline" if self.anthropic.api_key is None else "hybrid"

    @property
    def using_dev_keys(self) -> bool:
        return any(k.key.get_secret_value() in _DEV_KEY_VALUES for k in self.api_keys)

    def rate_for(self, key: ApiKey) -> int:
        return key.rate_per_minute or self.limits.rate_per_minute


def _read_keys_file(path: Path) -> list[ApiKey]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"TELCO_API_KEYS_FILE {path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ValueError(f"TELCO_API_KEYS_FILE {path}: not valid JSON or YAML ({err})") from None
    if not isinstance(data, list):
        raise ValueError(f"TELCO_API_KEYS_FILE {path}: expected a list of {{key, role, name, customer_id?}}")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(ApiKey.model_validate(item))
        except ValidationError as err:
            raise ValueError(f"TELCO_API_KEYS_FILE {path}, entry {i}: {_problems(err)}") from None
    return out


def _check_unique(keys: list[ApiKey]) -> None:
    names = [k.name for k in keys]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"API key names must be unique; repeated: {', '.join(dupes)}")
    values = [k.key.get_secret_value() for k in keys]
    if len(set(values)) != len(values):
        raise ValueError("the same API key value is configured twice (under different names)")


def _check_production_keys(keys: list[ApiKey]) -> None:
    for k in keys:
        raw = k.key.get_secret_value()
        if raw in _DEV_KEY_VALUES:
            raise ValueError(f"API key {k.name!r} is a published development key; it is refused in production")
        if len(raw) < MIN_PRODUCTION_KEY_CHARS:
            raise ValueError(f"API key {k.name!r} is too short for production "
                             f"({len(raw)} characters; at least {MIN_PRODUCTION_KEY_CHARS})")


def _msg(e: dict) -> str:
    return str(e["msg"]).removeprefix("Value error, ")


def _problems(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {_msg(e)}" for e in err.errors())


def _named_problems(err: ValidationError) -> str:
    """Each problem with the environment variable that sets it, so the fix is obvious."""
    parts = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        parts.append(f"{_variable(loc)} ({'.'.join(loc)}): {_msg(e)}" if loc else _msg(e))
    return "; ".join(parts)


def _variable(loc: list[str]) -> str:
    if loc[0] in _GROUPS and len(loc) > 1:
        # anthropic has groups of its own (budget, breaker, models): name the variable down to the field
        return "TELCO_" + "__".join(p.upper() for p in loc[:3] if not p.isdigit())
    return f"TELCO_{loc[0].upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings now (no cache); a bad value raises InvalidInput naming the TELCO_ variable and the problem."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise InvalidInput("invalid settings: " + _named_problems(err)) from None
    except SettingsError as err:
        hint = " (TELCO_API_KEYS must be a JSON list of {key, role, name, customer_id?})" if "api_keys" in str(err) else ""
        raise InvalidInput(f"invalid settings: {err}{hint}") from None


class _MemoryEnv(BaseSettings):
    """Only the memory settings, read fresh: memory is opened from processes (writer and holder actors, jobs)
    that have no other use for the whole Settings, and tests start stores on new endpoints in one process."""

    model_config = SettingsConfigDict(env_prefix="TELCO_", env_file=".env", env_file_encoding="utf-8",
                                      env_nested_delimiter="__", extra="ignore")

    memory_s3: MemoryS3 = MemoryS3()
    memory_cache: MemoryCache = MemoryCache()
    memory_shards: int = Field(default=1, ge=1, le=64)


def memory_env() -> _MemoryEnv:
    try:
        return _MemoryEnv()
    except ValidationError as err:
        raise InvalidInput(f"invalid memory settings: {_named_problems(err)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use. Tests change the environment and call get_settings.cache_clear()."""
    return load_settings()

"""Who is calling and how often: API keys to Principals, role checks, and a per-key rate limit.

Keys are compared as SHA-256 digests with hmac.compare_digest against every configured key (no early exit), so
neither the position of a matching key nor how many leading characters of a guess are right shows in the timing.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import deque
from typing import Callable, Iterable, Mapping

from telco.config import ApiKey, Settings
from telco.contract.principal import Principal
from telco.errors import Forbidden, RateLimited, Unauthorized

KEY_HELP = "send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
MAX_PRESENTED_KEY_CHARS = 256  # longer than any key we issue; refuse before hashing attacker-sized input


def _digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode("utf-8")).digest()


def presented_key(headers: Mapping[str, str]) -> str:
    """The key a request carries, from `Authorization: Bearer` or `X-API-Key`; Unauthorized when there is none."""
    auth = headers.get("authorization")
    api_key = headers.get("x-api-key")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized(f"the Authorization header must be 'Bearer <key>'; {KEY_HELP}")
        key = value.strip()
        if api_key is not None and api_key.strip() != key:
            raise Unauthorized("the request carries two different API keys (Authorization and X-API-Key)")
    elif api_key is not None and api_key.strip():
        key = api_key.strip()
    else:
        raise Unauthorized(f"missing API key: {KEY_HELP}")
    if len(key) > MAX_PRESENTED_KEY_CHARS:
        raise Unauthorized("API key not recognised")
    return key


class KeyRing:
    """The configured keys, each resolving to the Principal it stands for and its rate limit."""

    def __init__(self, keys: Iterable[ApiKey], default_rate_per_minute: int) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        self.rates: dict[str, int] = {}
        for k in keys:
            self._entries.append((_digest(k.key.get_secret_value()),
                                  Principal(key_id=k.name, role=k.role, customer_id=k.customer_id)))
            self.rates[k.name] = k.rate_per_minute or default_rate_per_minute
        if not self._entries:
            raise ValueError("a KeyRing needs at least one API key")

    @classmethod
    def from_settings(cls, settings: Settings) -> "KeyRing":
        return cls(settings.api_keys, settings.limits.rate_per_minute)

    def lookup(self, raw: str) -> Principal | None:
        wanted = _digest(raw)
        found: Principal | None = None
        for digest, principal in self._entries:
            if hmac.compare_digest(digest, wanted):
                found = principal  # keep looping: the time taken must not depend on where the key sits
        return found

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        principal = self.lookup(presented_key(headers))
        if principal is None:
            raise Unauthorized("API key not recognised")
        return principal


def require_role(principal: Principal, *roles: str) -> Principal:
    if principal.role not in roles:
        wanted = " or ".join(roles)
        raise Forbidden(f"this endpoint needs an {wanted} key; the key {principal.key_id!r} has role "
                        f"{principal.role!r}", required=list(roles), role=principal.role)
    return principal


def require_admin(principal: Principal) -> Principal:
    return require_role(principal, "admin")


def require_operations_or_admin(principal: Principal) -> Principal:
    return require_role(principal, "operations", "admin")


class RateLimiter:
    """Sliding one-minute window per key: a request is allowed when fewer than `limit` were allowed in the last 60 s.

    State is per process. Each ingress replica counts on its own, so with N replicas a key can reach up to N times
    its limit; that is the price of not putting a shared counter on every request's path.
    """

    def __init__(self, rates: Mapping[str, int], *, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rates = dict(rates)
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def check(self, key_id: str) -> None:
        """Count one request for `key_id`, or raise RateLimited (with retry_after_s) without counting it."""
        limit = self.rates[key_id]
        now = self.clock()
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= limit:
            retry_after = max(1, math.ceil(hits[0] + self.window_s - now))
            raise RateLimited(f"rate limit exceeded for key {key_id!r}: at most {limit} requests per minute; "
                              f"retry in {retry_after} s", retry_after_s=retry_after, limit_per_minute=limit)
        hits.append(now)

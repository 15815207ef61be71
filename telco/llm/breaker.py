"""A circuit breaker per model, so an outage costs one timeout per window instead of one per turn.

closed: calls go out; `failures` failed calls within `window_s` open it.
open: no call goes out (the agent uses its offline brain at once) until `open_s` has passed.
half_open: exactly one probe goes out; its success closes the breaker, its failure opens it for another `open_s`.

Only availability failures count (API errors after the SDK's retries, timeouts, connection errors): an answer
that does not fit the schema is the model's mistake, not an outage. State is per process (per replica), which is
what a breaker wants: each replica learns of an outage from its own calls. Used from one event loop; no locks.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from telco.config import BreakerSettings

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, failures: int, window_s: float, open_s: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window_s = window_s
        self.open_s = open_s
        self._clock = clock
        self._recent: deque[float] = deque()
        self._opened_at: float | None = None
        self._probe_since: float | None = None  # a half-open probe is out

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self.open_s:
            return "open"
        return "half_open"

    def allow(self) -> bool:
        """May a call go out now? In half-open state this grants the single probe."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = self._clock()
        # A probe whose caller vanished (cancelled) must not keep the breaker shut for good.
        if self._probe_since is not None and now - self._probe_since < self.open_s:
            return False
        self._probe_since = now
        return True

    def record_success(self) -> None:
        self._recent.clear()
        self._opened_at = None
        self._probe_since = None

    def record_failure(self) -> None:
        now = self._clock()
        if self._opened_at is not None:  # the probe failed (or a call that went out before opening)
            self._opened_at = now
            self._probe_since = None
            return
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if len(self._recent) >= self.failures:
            self._opened_at = now
            self._recent.clear()

    def release_probe(self) -> None:
        """The granted probe was never sent or never finished: let the next caller probe."""
        self._probe_since = None

    def retry_in_s(self) -> float:
        """Seconds until the next call may go out (0 when it may go out now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.open_s - (self._clock() - self._opened_at))


class Breakers:
    """One breaker per model, made on first use from the settings."""

    def __init__(self, settings: BreakerSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._by_model: dict[str, CircuitBreaker] = {}

    def for_model(self, model: str) -> CircuitBreaker:
        b = self._by_model.get(model)
        if b is None:
            s = self.settings
            b = self._by_model[model] = CircuitBreaker(s.failures, s.window_s, s.open_s, clock=self._clock)
        return b

    def states(self) -> dict[str, State]:
        return {m: b.state for m, b in self._by_model.items()}

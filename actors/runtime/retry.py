"""Calling another agent: retry when its replica died (Serve does not retry a call whose replica died).

Only agent calls are retried here, and every agent call is safe to repeat: agents are stateless, and the
technical agent's writes carry idempotency keys derived from the run it was given.
"""
from __future__ import annotations

import asyncio
from typing import Any

MAX_ATTEMPTS = 4
BACKOFF_S = 0.2


def replica_gone(exc: BaseException) -> bool:
    """The actor or replica behind a call died or cannot be reached (the call may be sent again)."""
    try:
        from ray import exceptions as rex
    except ImportError:  # Ray is optional for plain-class use
        return False
    gone = tuple(t for t in (getattr(rex, n, None) for n in (
        "ActorDiedError", "RayActorError", "ActorUnavailableError", "ActorUnschedulableError")) if t)
    return isinstance(exc, gone)


def attempts_made(exc: BaseException) -> int:
    """How many calls call_agent made before raising `exc`: only a dead replica is tried again, up to the limit."""
    return MAX_ATTEMPTS if replica_gone(exc) else 1


async def call_agent(method: Any, *args: Any) -> tuple[Any, int]:
    """(result, attempts). `method` is a Serve handle method (has .remote) or a plain async method."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if hasattr(method, "remote"):
                return await method.remote(*args), attempt
            return await method(*args), attempt
        except Exception as exc:
            if attempt == MAX_ATTEMPTS or not replica_gone(exc):
                raise
            await asyncio.sleep(BACKOFF_S * attempt)
    raise AssertionError("unreachable")

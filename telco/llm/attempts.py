"""Seeing the SDK's retries: a client middleware that notes each HTTP attempt of the current call.

The anthropic SDK runs its middleware chain once per HTTP attempt, inside its retry loop (408, 409, 429, 5xx
and 529 answers, timeouts and connection errors are retried with backoff, honouring retry-after). The call in
progress is found through a context variable, which follows the awaiting task, so concurrent calls on one client
each see only their own attempts.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import anthropic

_current: ContextVar[list[int | str] | None] = ContextVar("telco_llm_attempts", default=None)


@contextmanager
def observe_attempts() -> Iterator[list[int | str]]:
    """Within the block, every HTTP attempt of this task's calls appends its status (or failure kind)."""
    log: list[int | str] = []
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)


async def note_attempt(request: Any, call_next: Any) -> Any:
    log = _current.get()
    try:
        response = await call_next(request)
    except anthropic.APITimeoutError:
        if log is not None:
            log.append("timeout")
        raise
    except anthropic.APIConnectionError:
        if log is not None:
            log.append("connection_error")
        raise
    if log is not None:
        log.append(response.http_response.status_code)
    return response

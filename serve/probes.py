"""Readiness: the ingress is ready when the planner and the OSS/BSS answer and memory can be opened and listed.

Each check returns "ok" or a sentence saying what is wrong, so /readyz tells an operator where to look.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any, Awaitable, Callable

import lancedb

PROBE_TIMEOUT_S = 3.0


def memory_check(uri: str) -> str:
    """Blocking; run it in a thread. Does not create anything: a missing local directory is reported, not made."""
    try:
        if "://" not in uri and not os.path.isdir(uri):
            return f"memory directory {uri} does not exist (telco up creates and loads it)"
        tables = lancedb.connect(uri).list_tables().tables
    except Exception as err:  # any driver or storage error means "not reachable"; say which
        return f"memory at {uri} is not reachable: {type(err).__name__}: {err}"
    if not tables:
        return f"memory at {uri} has no tables yet (run the memory bootstrap: telco up does)"
    return "ok"


async def call_check(name: str, call: Callable[[], Awaitable[Any]], timeout_s: float = PROBE_TIMEOUT_S) -> str:
    try:
        await asyncio.wait_for(_awaitable(call()), timeout_s)
    except asyncio.TimeoutError:
        return f"{name} did not answer within {timeout_s:g} s"
    except Exception as err:
        return f"{name} failed: {type(err).__name__}: {err}"
    return "ok"


async def _awaitable(x: Awaitable[Any]) -> Any:
    return await x


async def readiness(checks: dict[str, Callable[[], Awaitable[str]]]) -> dict[str, str]:
    names = list(checks)
    results = await asyncio.gather(*(checks[n]() for n in names))
    return dict(zip(names, results))

"""Marking the stable prefix of a request for prompt caching.

The API caches a request's prefix in the order tools, system, messages, up to the block that carries
cache_control. So the system prompt is split into blocks that stay the same across turns (the role prompt,
policy excerpts: `stable`) and blocks that change (the customer's context, similar episodes); the stable ones
come first and the last of them carries the mark, which covers the tools before it too. With no stable system
block the last tool carries it. Note the API only caches a prefix above a minimum length that depends on the
model (see the provider's prompt-caching documentation); below it the mark is harmless and nothing is cached.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telco.errors import InvalidInput

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}


@dataclass(frozen=True)
class SystemBlock:
    text: str
    stable: bool = True  # the same on every turn for this role: part of the cached prefix

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise InvalidInput("a system block needs non-empty text")


def as_blocks(system: str | SystemBlock | Sequence[SystemBlock]) -> list[SystemBlock]:
    if isinstance(system, str):
        return [SystemBlock(system)]
    if isinstance(system, SystemBlock):
        return [system]
    blocks = list(system)
    for b in blocks:
        if not isinstance(b, SystemBlock):
            raise InvalidInput(f"system blocks must be SystemBlock objects, got {type(b).__name__}")
    return blocks


def with_cache_marks(tools: Sequence[dict[str, Any]], system: Sequence[SystemBlock]
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tools, system) as request JSON, the last block of the stable prefix marked for caching."""
    seen_volatile = False
    for b in system:
        if b.stable and seen_volatile:
            raise InvalidInput("a stable system block follows a changing one; it could never be served from the "
                               "cache: put every stable block first")
        seen_volatile = seen_volatile or not b.stable
    out_tools = [dict(t) for t in tools]
    out_system: list[dict[str, Any]] = [{"type": "text", "text": b.text} for b in system]
    last_stable = max((i for i, b in enumerate(system) if b.stable), default=None)
    if last_stable is not None:
        out_system[last_stable]["cache_control"] = dict(EPHEMERAL)
    elif out_tools:
        out_tools[-1]["cache_control"] = dict(EPHEMERAL)
    return out_tools, out_system

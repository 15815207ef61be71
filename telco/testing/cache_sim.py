"""Usage figures for the scripted Messages API: token estimates and a prompt-cache simulation.

Not Claude's tokenizer and not Claude's cache: tokens are estimated as characters / chars_per_token, and the
cache follows the documented rules in simplified form (the prefix up to a block marked cache_control is written
on first use and read while it is unchanged, entries live `ttl_s` from last use, prefixes shorter than
`min_cacheable_tokens` are never cached). It exists so a benchmark can show whether our requests keep a stable
prefix; the share it reports is a property of our requests under these assumptions, not a measurement of Claude.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any


def _canon(block: Any) -> str:
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return json.dumps(block, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def prefix_blocks(body: dict[str, Any]) -> list[tuple[str, bool]]:
    """The request as the cache sees it: (canonical block, carries cache_control) in tools, system, messages order."""
    out: list[tuple[str, bool]] = []
    for t in body.get("tools") or []:
        out.append((_canon(t), isinstance(t, dict) and "cache_control" in t))
    system = body.get("system")
    if isinstance(system, str):
        out.append((_canon({"type": "text", "text": system}), False))
    else:
        for b in system or []:
            out.append((_canon(b), isinstance(b, dict) and "cache_control" in b))
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            out.append((_canon({"role": m.get("role"), "text": content}), False))
        else:
            for b in content or []:
                out.append((_canon(b), isinstance(b, dict) and "cache_control" in b))
    return out


class CacheSimulator:
    def __init__(self, *, chars_per_token: float = 4.0, min_cacheable_tokens: int = 1024, ttl_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.chars_per_token = chars_per_token
        self.min_cacheable_tokens = min_cacheable_tokens
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, float] = {}  # prefix key -> expiry
        self._lock = threading.Lock()

    def tokens(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token) if text else 0

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        """input_tokens (uncached), cache_creation_input_tokens, cache_read_input_tokens for this request."""
        blocks = prefix_blocks(body)
        digest = hashlib.sha256(str(body.get("model")).encode())
        running = 0
        marks: list[tuple[str, int]] = []  # (prefix key, prefix tokens) at each cache_control block
        for text, marked in blocks:
            digest.update(text.encode())
            running += self.tokens(text)
            if marked:
                marks.append((digest.hexdigest(), running))
        total = running
        now = self._clock()
        read = created = 0
        with self._lock:
            live = {k for k, exp in self._entries.items() if exp > now}
            hits = [n for k, n in marks if k in live]
            read = max(hits, default=0)
            eligible = [(k, n) for k, n in marks if n >= self.min_cacheable_tokens]
            if eligible and eligible[-1][0] not in live:
                created = eligible[-1][1] - read
            for k, _ in eligible:
                self._entries[k] = now + self.ttl_s
        return {"input_tokens": total - read - created, "cache_creation_input_tokens": created,
                "cache_read_input_tokens": read}

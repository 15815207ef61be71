"""The intent agent as served: an IntentAgent built from memory's active example set, rebuilt when it changes.

Every `refresh_s` seconds (settings.intent_refresh_s) a background task, or in-process the next classify call,
checks the active version (one row of `intent_sets`, memory/intent_sets.py; ~3 ms). When it differs from the one
served, the new set's agent is built and warmed beside the old one (only texts this process has not embedded yet
cost a model call), then swapped in with one assignment: calls in flight finish on the agent they started with,
the next ones read the new set. A failed check or build leaves the current agent serving, so a publish can never fail a
turn. A memory with no set yet (from before sets existed) is served the catalogue, and checked again later.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.agents.intent import Calibration, EmbedderLike, IntentAgent
from memory.intent_sets import IntentSet, IntentSets
from telco.contract.messages import IntentRequest, IntentResult, SlotRequest, SlotResult
from telco.nlu.lexicon import load_lexicon
from telco.nlu.plans import demo_catalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Serving:
    version: int | None  # None: the catalogue, because memory has no active set
    agent: IntentAgent


class FollowingIntentAgent:
    """IntentAgent's interface (classify, read_slot, warm_up) over whichever example set memory says is active."""

    def __init__(self, memory_uri: str, *, refresh_s: float | None = None, embedder: EmbedderLike | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from memory.store import connect

        if refresh_s is None:
            from telco.config import get_settings

            refresh_s = get_settings().intent_refresh_s
        if embedder is None:
            from memory.embed import get_embedder

            embedder = get_embedder()
        self.sets = IntentSets(connect(memory_uri))
        self.refresh_s = refresh_s
        self.embedder = embedder
        self.lexicon = load_lexicon()
        self.plans = demo_catalogue(self.lexicon)
        self.clock = clock
        self._serving: _Serving | None = None
        self._checked_at = float("-inf")
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self.swaps = 0
        self.failed_checks = 0

    # -- IntentAgent's interface --
    async def classify(self, req: IntentRequest) -> IntentResult:
        serving = self._serving or await self._first()
        self._maybe_check()
        return await serving.agent.classify(req)

    async def read_slot(self, req: SlotRequest) -> SlotResult:
        serving = self._serving or await self._first()
        return await serving.agent.read_slot(req)

    async def warm_up(self) -> None:
        await (self._serving or await self._first()).agent.warm_up()

    # -- following memory --
    @property
    def version(self) -> int | None:
        return self._serving.version if self._serving else None

    @property
    def calibration(self) -> Calibration | None:
        return self._serving.agent.calibration if self._serving else None

    def status(self) -> dict[str, Any]:
        s = self._serving
        return {"version": s.version if s else None, "examples": len(s.agent.examples) if s else None,
                "calibration": s.agent.calibration_source if s else None, "swaps": self.swaps,
                "failed_checks": self.failed_checks, "refresh_s": self.refresh_s}

    async def refresh(self) -> bool:
        """Check memory now and swap in the active set if it is not the one served. True when it swapped."""
        async with self._lock:  # one build at a time; a second caller finds the work done
            self._checked_at = self.clock()
            version = await asyncio.to_thread(self.sets.active_version)
            if self._serving is not None and version == self._serving.version:
                return False
            if version is None:
                if self._serving is None:
                    self._serving = await self._build(None)
                return False
            chosen = await asyncio.to_thread(self.sets.get, version)
            self._serving = await self._build(chosen)
            self.swaps += 1
            return True

    async def follow(self) -> None:
        """Check every refresh_s whatever the traffic, so an idle replica is ready before its next customer (a Serve
        replica runs this as a task; in-process callers rely on the check classify starts)."""
        while True:
            await asyncio.sleep(self.refresh_s)
            if self.clock() - self._checked_at >= self.refresh_s:
                await self._check_quietly()

    def _maybe_check(self) -> None:
        if self.clock() - self._checked_at < self.refresh_s or (self._task is not None and not self._task.done()):
            return
        self._checked_at = self.clock()
        self._task = asyncio.create_task(self._check_quietly())

    async def _check_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # memory unreachable, a bad row: keep serving what we have, try again later
            self.failed_checks += 1
            log.warning("intent example set check failed; still serving v%s: %s", self.version, exc)

    async def _first(self) -> _Serving:
        try:
            await self.refresh()
        except Exception as exc:  # no memory to read yet: the catalogue serves until a check succeeds
            self.failed_checks += 1
            log.warning("intent example sets unreadable; serving the catalogue: %s", exc)
            async with self._lock:
                if self._serving is None:
                    self._serving = await self._build(None)
        assert self._serving is not None
        return self._serving

    async def _build(self, chosen: IntentSet | None) -> _Serving:
        if chosen is None:
            agent = IntentAgent(self.embedder, lexicon=self.lexicon, plans=self.plans)
        else:
            calibration = Calibration.model_validate(chosen.calibration) if chosen.calibration else None
            agent = IntentAgent(self.embedder, chosen.examples, calibration=calibration, lexicon=self.lexicon,
                                plans=self.plans)
        await agent.warm_up()  # the index is built here, before the swap, never on a customer's turn
        return _Serving(version=chosen.version if chosen else None, agent=agent)

"""The whole agent system composed in one process, without Ray: the same classes the Serve deployments wrap.

For development and fast tests of conversation logic (`telco scenarios run --runner local`). The HTTP path over a
real Ray cluster is `--runner api`; both must reach the same end states.
"""
from __future__ import annotations

import asyncio
from typing import Any

from actors.agents.dialogue import DialogueAgent
from actors.agents.escalation import EscalationAgent
from actors.agents.intent_source import FollowingIntentAgent
from actors.agents.knowledge import KnowledgeAgent
from actors.agents.technical import TechnicalAgent, procedural_source
from actors.planner.planner import Planner
from actors.runtime.oss_bss import OssBss
from telco.contract.http import MessageIn, NewConversation
from telco.contract.principal import Principal
from telco.models import World
from telco.redact import install_log_redaction
from telco.sandbox.customer_steps import apply_customer_step
from telco.sandbox.faults import inject_fault
from telco.scenarios.spec import Scenario

OPERATIONS = Principal(key_id="local-operations", role="operations")


def compose(memory_uri: str, oss_bss: OssBss | None = None, llm: Any = None) -> tuple[Planner, OssBss]:
    """`llm`: an actors.planner.llm_brain.ClaudeBrain for the Claude path; None runs every agent offline."""
    from actors.agents.episodes import local_episodes
    from actors.runtime.conversation_store import memory_backed
    from memory.audit import local_audit
    from memory.embed import get_embedder
    from memory.experiments import experiment_variants
    from memory.kb_sections import added_documents
    from memory.semantic import SemanticMemory
    from memory.store import connect
    from memory.writer import LocalWriter

    install_log_redaction()  # as in every Serve replica (actors/runtime/deployments.py)
    oss_bss = oss_bss or OssBss("demo", audit=local_audit(memory_uri))
    store = connect(memory_uri)
    knowledge = KnowledgeAgent(SemanticMemory(store, LocalWriter(store), get_embedder()),
                               added=lambda: added_documents(store))
    conversations, episodes = memory_backed(memory_uri), local_episodes(memory_uri)
    technical = TechnicalAgent(oss_bss, procedural_source(memory_uri), variants=experiment_variants(memory_uri))
    # The intent agent serves memory's active example set, as the Serve deployment does.
    planner = Planner(intent=FollowingIntentAgent(memory_uri), technical=technical,
                      knowledge=knowledge,
                      dialogue=DialogueAgent(), escalation=EscalationAgent(), oss_bss=oss_bss,
                      store=conversations, episodes=episodes, llm=llm)
    return planner, oss_bss


class LocalClient:
    """A ScenarioClient over the in-process system (see telco.scenarios.agents_driver).

    It owns an event loop. Use it as a context manager (or call close()): the episodes still being written finish,
    the model client's connections close, and no task is left pending on a loop that is thrown away."""

    def __init__(self, memory_uri: str, llm: Any = None, oss_bss: OssBss | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.llm = llm
        self.planner, self.oss_bss = compose(memory_uri, oss_bss, llm=llm)

    def __enter__(self) -> "LocalClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def reset_world(self, scenario: Scenario) -> None:
        spec = "demo" if scenario.world == "demo" else scenario.world.model_dump()
        self._run(self.oss_bss.load_world(spec))
        for fault in scenario.faults:
            inject_fault(self.oss_bss.sandbox, fault.name, fault.customer_id or scenario.customer_id,
                         fault.service_id, **fault.params)

    def world(self) -> World:
        return self.oss_bss.sandbox.world.model_copy(deep=True)

    def perform_step(self, step_id: str, customer_id: str | None, service_id: str | None) -> dict[str, Any]:
        return apply_customer_step(self.oss_bss.sandbox, step_id, customer_id, service_id)

    def start(self) -> str:
        return self._run(self.planner.start_conversation(OPERATIONS, NewConversation())).conversation_id

    async def aclose(self) -> None:
        """Let episodes still being written finish, then close the model client."""
        await self.planner.drain()
        if self.llm is not None:
            await self.llm.aclose()

    def close(self) -> None:
        """aclose() on the client's loop, then stop whatever is left on it and close it; a second call does nothing."""
        if self.loop.is_closed():
            return
        try:
            self._run(self.aclose())
            self._run(_cancel(asyncio.all_tasks(self.loop)))
            self._run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()

    def send(self, conversation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        out = self._run(self.planner.handle_turn(OPERATIONS, conversation_id, MessageIn.model_validate(body)))
        return out.model_dump(mode="json")


async def _cancel(tasks: set[asyncio.Task]) -> None:
    left = [t for t in tasks if not t.done()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)

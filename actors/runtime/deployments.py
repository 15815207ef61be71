"""Serve deployments: each agent class wrapped as its own independently scaled deployment.

Replicas, autoscaling and CPU shares are not set here: serve/app.py applies serve/config.yaml, the same file
`serve deploy` reads, so `telco up` (serve.run) and a production deploy run with one set of numbers. The wrappers
only forward calls; every agent's behaviour lives in its own file.
"""
from __future__ import annotations

from typing import Any

from ray import serve

from telco.contract.http import FeedbackIn, MessageIn, NewConversation
from telco.contract.messages import (
    EscalationFacts,
    IntentRequest,
    KnowledgeRequest,
    ReplyParts,
    SlotRequest,
    TechnicalRequest,
)
from telco.contract.principal import Principal
from telco.redact import install_log_redaction

# Every replica process imports this module: what it logs (errors quote what customers wrote) is redacted.
install_log_redaction()


def _one_torch_thread() -> None:
    # Measured: with torch's default of one thread per core, a short text took ~1 s on a busy 2-core machine
    # against ~16 ms with one thread. Replicas share the cores; each embeds small batches.
    import torch

    torch.set_num_threads(1)


@serve.deployment(name="Intent")
class IntentDeployment:
    async def __init__(self, memory_uri: str) -> None:
        import asyncio

        from actors.agents.intent_source import FollowingIntentAgent

        _one_torch_thread()
        # Serves memory's active example set and follows it when a learning run publishes another.
        self.agent = FollowingIntentAgent(memory_uri)
        await self.agent.warm_up()  # load the model and the example index before the first customer
        self._follow = asyncio.get_running_loop().create_task(self.agent.follow())

    async def example_set(self, refresh: bool = False) -> dict:
        """Which example set this replica serves (refresh=True checks memory first)."""
        if refresh:
            await self.agent.refresh()
        return self.agent.status()

    async def classify(self, req: IntentRequest):
        return await self.agent.classify(req)

    async def read_slot(self, req: SlotRequest):
        return await self.agent.read_slot(req)


@serve.deployment(name="Knowledge")
class KnowledgeDeployment:
    def __init__(self, memory_uri: str) -> None:
        from actors.agents.knowledge import KnowledgeAgent
        from memory.embed import get_embedder
        from memory.semantic import SemanticMemory
        from memory.store import connect
        from memory.writer import LocalWriter

        _one_torch_thread()
        from memory.kb_sections import added_documents

        store = connect(memory_uri)
        self.store, self.memory_uri = store, memory_uri
        # Reads only: the KB is loaded into memory by bootstrap through the single writer. Sections added through
        # the admin route are followed as the index shows them (actors/agents/knowledge.py).
        self.agent = KnowledgeAgent(SemanticMemory(store, LocalWriter(store), get_embedder()),
                                    added=lambda: added_documents(store))
        # Without this the first customers to reach a KB section paid for embedding its sentences (py-spy: the
        # replica's main cost; lookups 26.7 ms p50 in bench/turns.py, 21.9 ms warm). Ready means the cache is.
        self.agent.warm()

    async def answer(self, req: KnowledgeRequest):
        return await self.agent.answer(req)

    async def add_section(self, section: Any, added_by: str):
        """POST /v1/admin/kb/sections: the section embedded here (this replica has the model loaded) and written
        through the knowledge group's single writer actor; every replica serves it from its next question."""
        import asyncio

        from memory.kb_sections import AddedSections
        from memory.writer import RayWriter

        added = AddedSections(self.store, RayWriter(self.memory_uri), self.agent.embedder)
        out = await asyncio.to_thread(added.add, section, added_by=added_by)
        self.agent.refresh()
        return out


@serve.deployment(name="Episodes")
class EpisodesDeployment:
    def __init__(self, memory_uri: str) -> None:
        from actors.agents.episodes import local_episodes

        _one_torch_thread()
        self.service = local_episodes(memory_uri)
        self.service.episodic.embedder.embed(["warm"])  # the model loads before the first episode, not during it

    # Episodes are written off the reply's path, so they can wait a little to share one embedding call and one
    # write with the episodes other planners are sending.
    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.05)
    async def record(self, episodes: list[dict[str, Any]]) -> list[str | None]:
        return await self.service.record_many(episodes)

    async def feedback(self, episode_id: str, customer_id: str | None, csat: int, resolved: bool):
        return await self.service.feedback(episode_id, customer_id, csat, resolved)

    async def examples(self, customer_id: str, text: str, k: int):  # RemoteEpisodes always says how many
        return await self.service.examples(customer_id, text, k)


@serve.deployment(name="Technical")
class TechnicalDeployment:
    def __init__(self, oss_bss: Any, memory_uri: str) -> None:
        from actors.agents.technical import TechnicalAgent, procedural_source
        from memory.experiments import experiment_variants

        self.agent = TechnicalAgent(oss_bss, procedural_source(memory_uri), variants=experiment_variants(memory_uri))

    async def step(self, req: TechnicalRequest):
        return await self.agent.step(req)


@serve.deployment(name="Dialogue")
class DialogueDeployment:
    def __init__(self) -> None:
        from actors.agents.dialogue import DialogueAgent

        self.agent = DialogueAgent()

    async def compose(self, parts: ReplyParts):
        return await self.agent.compose(parts)


@serve.deployment(name="Escalation")
class EscalationDeployment:
    def __init__(self) -> None:
        from actors.agents.escalation import EscalationAgent

        self.agent = EscalationAgent()

    async def decide(self, facts: EscalationFacts):
        return await self.agent.decide(facts)


@serve.deployment(name="OssBss")
class OssBssDeployment:
    def __init__(self, world: Any = "demo", memory_uri: str | None = None) -> None:
        from actors.runtime.oss_bss import OssBss
        from actors.runtime.world_keeper import WorldKeeper
        from memory.audit import ray_audit

        # Every write attempt is appended to the audit table through the cluster's single writer; every change
        # to the world is kept in memory, so a replica that replaces this one resumes it.
        self.service = OssBss(world, audit=ray_audit(memory_uri) if memory_uri else None,
                              keeper=WorldKeeper(memory_uri) if memory_uri else None)

    async def call_tool(self, *args: Any):
        return await self.service.call_tool(*args)

    async def load_world(self, spec: Any):
        return await self.service.load_world(spec)

    async def dump_world(self):
        return await self.service.dump_world()

    async def inject_fault(self, name: str, customer_id: str, service_id: str | None = None, params: Any = None):
        return await self.service.inject_fault(name, customer_id, service_id, params)

    async def apply_customer_step(self, step_id: str, customer_id: str, service_id: str | None = None):
        return await self.service.apply_customer_step(step_id, customer_id, service_id)

    async def catalogue(self):
        return await self.service.catalogue()

    async def ping(self):
        return await self.service.ping()

    async def set_chaos(self, chaos: Any):
        return await self.service.set_chaos(chaos)

    async def restore_area(self, area_id: str):
        return await self.service.restore_area(area_id)

    async def handoffs(self, op: str, *args: Any):
        return await self.service.handoffs(op, *args)


@serve.deployment(name="Planner")
class PlannerDeployment:
    def __init__(self, intent: Any, technical: Any, knowledge: Any, dialogue: Any, escalation: Any, oss_bss: Any,
                 episodes: Any, memory_uri: str) -> None:
        from actors.agents.episodes import RemoteEpisodes
        from actors.operations.handoffs import HandoffDesk
        from actors.operations.turn_hooks import Operations
        from actors.planner.llm_brain import brain_from_settings
        from actors.planner.planner import Planner
        from actors.runtime.conversation_store import memory_backed
        from telco.config import get_settings

        store, episodes = memory_backed(memory_uri), RemoteEpisodes(episodes)
        self.planner = Planner(intent=intent, technical=technical, knowledge=knowledge, dialogue=dialogue,
                               escalation=escalation, oss_bss=oss_bss, store=store, episodes=episodes,
                               # None without an API key
                               llm=brain_from_settings(get_settings(), memory_uri, episodes=episodes.examples),
                               ops=Operations.in_ray(oss_bss, memory_uri))
        self.desk = HandoffDesk(oss_bss, store, episodes)

    async def start_conversation(self, principal: Principal, body: NewConversation):
        return await self.planner.start_conversation(principal, body)

    async def handle_turn(self, principal: Principal, conversation_id: str, body: MessageIn):
        return await self.planner.handle_turn(principal, conversation_id, body)

    async def stream_turn(self, principal: Principal, conversation_id: str, body: MessageIn):
        """handle_turn, with the model's reply delta by delta as it is written (call with stream=True)."""
        from actors.planner.llm_brain import turn_stream

        async for item in turn_stream(self.planner.handle_turn, principal, conversation_id, body):
            yield item

    async def get_conversation(self, principal: Principal, conversation_id: str):
        return await self.planner.get_conversation(principal, conversation_id)

    async def feedback(self, principal: Principal, conversation_id: str, body: FeedbackIn):
        return await self.planner.feedback(principal, conversation_id, body)

    async def handoff_desk(self, op: str, *args: Any):
        """The human handoff queue (actors/operations/handoffs.py): list, get, claim, reply, resolve."""
        if op not in ("list", "get", "claim", "reply", "resolve"):
            raise ValueError(f"unknown handoff desk operation {op!r}")
        return await getattr(self.desk, op)(*args)

    async def operations(self, op: str, *args: Any):
        """Alerts and area incidents (actors/operations/turn_hooks.py)."""
        if op not in ("alerts", "incidents", "world_reloaded"):
            raise ValueError(f"unknown operations query {op!r}")
        return await getattr(self.planner.ops, op)(*args)

    async def ping(self):
        return "ok"

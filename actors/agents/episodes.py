"""Episodic memory as a service: it writes the episode of each issue that ends (its summary embedded) and finds a
customer's resolved episodes like a message (the examples of the Claude path's planning prompt).

It runs as a Serve deployment of its own ("Episodes" in serve/config.yaml), so the embedding model and the CPU it
takes live there and not in every planner replica. Measured before the move (bench/turns.py, py-spy on the
planner replica): the planner loaded the model on the first issue that ended, seconds of CPU while it served
turns, and then embedded every episode summary next to the turns on its event loop.

`EpisodeService` is the plain class (in-process composition, tests); `RemoteEpisodes` is the same interface over
the deployment's handle, which is what a planner replica holds.
"""
from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from actors.runtime.retry import call_agent
from telco.contract.episode import Episode
from telco.errors import InvalidInput, NotFound

FEEDBACK_WAIT_S, FEEDBACK_TRIES = 0.1, 20  # the episode is written off the reply's path, maybe still in flight
EXAMPLES_K = 3  # resolved episodes shown to the Claude path's planning prompt as examples


class EpisodeService:
    def __init__(self, episodic: Any) -> None:
        self.episodic = episodic  # memory.episodic.EpisodicMemory

    async def record(self, episode: Episode | dict[str, Any]) -> None:
        problem = (await self.record_many([episode]))[0]
        if problem is not None:
            raise InvalidInput(problem)

    async def record_many(self, episodes: list[Episode | dict[str, Any]]) -> list[str | None]:
        """Store several episodes with one embedding call and one write (measured: a summary costs 10.8 ms to
        embed alone, 5.9 ms in a batch of 8). Episodes come typed in this process and as their JSON over a
        deployment handle (RemoteEpisodes). Returns, per episode, None or why it was refused; a refused one does
        not stop the others."""
        valid, problems = [], []
        for raw in episodes:
            try:
                valid.append(raw if isinstance(raw, Episode) else Episode.model_validate(raw))
                problems.append(None)
            except ValidationError as exc:
                first = exc.errors()[0]
                problems.append(f"bad episode: {'.'.join(map(str, first['loc']))}: {first['msg']}")
        if valid:
            latest = {e.episode_id: e for e in valid}  # the same episode twice in a batch: its last version wins
            await asyncio.to_thread(self.episodic.record, *latest.values())
        return problems

    async def feedback(self, episode_id: str, customer_id: str | None, csat: int, resolved: bool) -> None:
        if customer_id is None:
            return
        for attempt in range(FEEDBACK_TRIES):
            try:
                ep = await asyncio.to_thread(self.episodic.get, customer_id, episode_id)
                break
            except NotFound:
                if attempt == FEEDBACK_TRIES - 1:
                    raise
                await asyncio.sleep(FEEDBACK_WAIT_S)
        update: dict[str, Any] = {"csat": csat}
        if not resolved and ep.outcome == "resolved":
            update["outcome"] = "unresolved"  # the customer says it is not fixed: that outcome is what we learn from
        await asyncio.to_thread(self.episodic.record, ep.model_copy(update=update))

    async def examples(self, customer_id: str, text: str, k: int = EXAMPLES_K) -> list[dict[str, Any]]:
        """This customer's resolved episodes most like `text`: {episode_id, score, text (one line)} each."""
        hits = await asyncio.to_thread(self.episodic.similar, customer_id, text, k=k, outcome="resolved")
        return [{"episode_id": h.episode.episode_id, "score": round(h.score, 4),
                 "text": f"{h.episode.summary} (steps: {', '.join(s.name for s in h.episode.steps[:6])})"}
                for h in hits]


class RemoteEpisodes:
    """EpisodeService's interface over the "Episodes" deployment's handle. Every call is safe to repeat (an episode
    is upserted by its id), so a call whose replica died is retried like an agent call."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def record(self, episode: Episode) -> None:
        # The wire carries the episode's JSON: a replica of another release reads it field by field.
        problem, _ = await call_agent(self.handle.record, episode.model_dump(mode="json"))
        if problem is not None:
            raise InvalidInput(problem)

    async def feedback(self, episode_id: str, customer_id: str | None, csat: int, resolved: bool) -> None:
        await call_agent(self.handle.feedback, episode_id, customer_id, csat, resolved)

    async def examples(self, customer_id: str, text: str, k: int = EXAMPLES_K) -> list[dict[str, Any]]:
        found, _ = await call_agent(self.handle.examples, customer_id, text, k)
        return found


def local_episodes(memory_uri: str, writer: Any = None) -> EpisodeService:
    """The service in this process: the single-writer actors inside Ray, else a local writer."""
    from memory.embed import get_embedder
    from memory.episodic import EpisodicMemory
    from memory.store import connect

    store = connect(memory_uri)
    if writer is None:
        from memory.writer import LocalWriter, RayWriter

        writer = RayWriter(memory_uri) if _in_ray() else LocalWriter(store)
    return EpisodeService(EpisodicMemory(store, writer, get_embedder()))


def _in_ray() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()

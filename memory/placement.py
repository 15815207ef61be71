"""Where the cluster's single stateful actors run: on the head node when there is one to find.

The turns log's holder, the single writers, the incident book and the monitor are one actor each for the whole
cluster. Placed by the default policy they land on whichever node first asked for them, often a worker. A worker
can be lost at any moment (a preempted instance, a crash); the head cannot be lost without losing the cluster's
control store as well. So they are asked for on the head. The affinity is soft: if the head cannot take them they
go elsewhere, and they restart elsewhere after a loss (max_restarts), rebuilding what they hold from memory.
"""
from __future__ import annotations

from typing import Any

HEAD_RESOURCE = "node:__internal_head__"


def head_node_id() -> str | None:
    import ray

    for node in ray.nodes():
        if node.get("Alive") and HEAD_RESOURCE in node.get("Resources", {}):
            return node["NodeID"]
    return None


def on_head_node() -> dict[str, Any]:
    """Actor options that prefer the head node (none when Ray cannot name one)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    node = head_node_id()
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)} if node else {}

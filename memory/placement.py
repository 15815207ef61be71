"""Where the cluster's single stateful actors run: on the head node when there is one to find.

The turns log's holder, the single writers, the incident book and the monitor are one actor each for the whole
cluster. Placed by the default policy they land on whichever node first asked for them, often a worker. A worker
can be lost at any moment (a preempted instance, a crash); the head cannot be lost without losing the cluster's
control store as well. So they run on the head, and restart there after a loss of their own (max_restarts),
rebuilding what they hold from memory.

They ask for a sliver of the head's own resource rather than for a node-affinity strategy: these actors ask for no
CPU (num_cpus=0), and for a request with no resources Ray honours only a hard affinity; a soft one sent them to a
random node (measured on a three-node ray.cluster_utils cluster: 1 of 6 on the head, the monitor and two writers
on workers, lost with a worker in tests/integration/test_node_loss.py). A hard affinity would pin them to one node
id, which a head restarted with its control store kept (GCS fault tolerance) does not have; the head resource is
on every head.
"""
from __future__ import annotations

from typing import Any

HEAD_RESOURCE = "node:__internal_head__"
# Ray's smallest resource unit: the head's 1.0 of its resource leaves room for 10,000 of these actors.
HEAD_SHARE = 0.0001


def head_node_id() -> str | None:
    import ray

    for node in ray.nodes():
        if node.get("Alive") and HEAD_RESOURCE in node.get("Resources", {}):
            return node["NodeID"]
    return None


def on_head_node() -> dict[str, Any]:
    """Actor options that place the actor on the head node (none when Ray cannot name one)."""
    return {"resources": {HEAD_RESOURCE: HEAD_SHARE}} if head_node_id() else {}

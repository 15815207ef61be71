"""Losing a node under load (issue 15, item 5): a Ray cluster of three nodes on this machine
(ray.cluster_utils.Cluster: the head and two workers), the app's Ingress and Planner replicas spread one per node,
30 conversations talking at once; a worker that hosts a Planner replica is killed mid-run, and the working-memory
holder is killed too (it restarts and rebuilds from the log). Clients resend a message that failed in flight with
the same client_message_id. Then: every acknowledged turn is in the turns log exactly once, every conversation
finished its script after Serve replaced the lost replicas, and no replica is left on the lost node.

Lean on purpose (one cluster for the module, one replica per agent, two for Ingress and Planner): it costs about
as much as one app start. The single stateful actors (holder, writers, incident book, monitor) are placed on the
head node (memory/placement.py), so a worker's loss does not take them; the holder is killed separately to prove
the other path."""
from __future__ import annotations

import os
import time

import httpx
import pytest

ray = pytest.importorskip("ray")

from durability_kit import Talk, check_log  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]

OPS = "dev-operations-key"
SPREAD = {"num_replicas": 2, "max_replicas_per_node": 1}
CONVERSATIONS = 30
SCRIPT = ["my mobile data is not working", "I already restarted the phone", "it still does not work",
          "what is the roaming policy in the EU?"]


def lean_options(name: str) -> dict:
    from serve.deploy_config import _deployments

    base = _deployments()[name]
    options = {"max_ongoing_requests": base["max_ongoing_requests"],
               "ray_actor_options": {"num_cpus": base["ray_actor_options"]["num_cpus"]}}
    return {**options, **(SPREAD if name in ("Ingress", "Planner") else {"num_replicas": 1})}


def replica_nodes(deployment: str) -> list[str]:
    from ray._private.state import actors

    return [a["Address"]["NodeID"] for a in actors().values()
            if a["ActorClassName"] == f"ServeReplica:telco:{deployment}" and a["State"] == "ALIVE"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from ray import serve
    from ray.cluster_utils import Cluster

    import serve.app as serve_app
    from memory.bootstrap import memory_bootstrap
    from serve.local_app import free_port, wait_ready
    from telco.config import Settings, get_settings

    started = time.monotonic()
    uri = str(tmp_path_factory.mktemp("memory"))
    env = {"TELCO_MEMORY_URI": uri, "TELCO_LIMITS__RATE_PER_MINUTE": "100000", "OMP_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    settings = Settings(memory_uri=uri)
    memory_bootstrap(settings)
    # A lost node is noticed after health_check_period_ms x failure_threshold (Ray's default: 3 s x 5).
    head = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 4}})
    workers = [head.add_node(num_cpus=1) for _ in range(2)]
    ray.init(address=head.address, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        port = free_port()
        # One proxy, on the head: the three nodes share this machine's ports.
        serve.start(http_options={"host": "127.0.0.1", "port": port, "location": "HeadOnly"})
        original = serve_app.deployment_options
        serve_app.deployment_options = lean_options
        try:
            serve.run(serve_app.build_app(settings), name="telco", route_prefix="/")
        finally:
            serve_app.deployment_options = original
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, 300)
        yield {"url": url, "uri": uri, "cluster": head, "workers": workers, "started": started}
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            head.shutdown()
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
            get_settings.cache_clear()
            print(f"\nnode-loss module wall time: {time.monotonic() - started:.0f} s")


def test_losing_a_worker_node_loses_no_acknowledged_turn(cluster):
    from ray import serve

    from actors.runtime.conversation_store import HOLDER_NAME
    from memory.placement import head_node_id

    ready_s = time.monotonic() - cluster["started"]
    planner_nodes = replica_nodes("Planner")
    assert len(set(planner_nodes)) == 2, planner_nodes  # spread: one Planner replica per node
    by_id = {w.node_id: w for w in cluster["workers"]}
    victim = next(by_id[n] for n in planner_nodes if n in by_id)  # a worker that hosts a Planner replica
    holder = ray.get_actor(HOLDER_NAME, namespace="telco")
    head = head_node_id()

    talk = Talk(cluster["url"], OPS, [list(SCRIPT) for _ in range(CONVERSATIONS)])
    with httpx.Client(timeout=60) as client:
        talk.open(client)
    talk.start()
    total = CONVERSATIONS * len(SCRIPT)
    while talk.count() < total // 4 and not talk.errors:
        time.sleep(0.2)
    lost_at = talk.count()
    cluster["cluster"].remove_node(victim, allow_graceful=False)  # the node dies: its processes are killed
    ray.kill(holder, no_restart=False)  # and the holder of working memory restarts from the log meanwhile
    removed_at = time.monotonic()
    talk.join(timeout_s=420)
    recovered_s = time.monotonic() - removed_at

    assert not talk.errors, talk.errors
    assert lost_at < total and talk.count() == total  # the loss happened mid-run, and every turn was answered
    figures = check_log(cluster["uri"], talk)
    # Serve replaced what the node took with it: the app runs again (a replacement replica may still be starting
    # when the last turn is answered: the surviving replica answered meanwhile), and none is on the dead node.
    deadline = time.monotonic() + 240
    while (status := serve.status().applications["telco"]).status != "RUNNING" and time.monotonic() < deadline:
        time.sleep(2)
    assert status.status == "RUNNING", status.message
    for name in ("Ingress", "Planner", "Intent", "Technical", "Knowledge", "OssBss"):
        assert victim.node_id not in replica_nodes(name), name
    assert len(replica_nodes("Planner")) == 2
    # The stateful singletons were on the head and are there still.
    from ray._private.state import actors

    for a in actors().values():
        if a["Name"] in (HOLDER_NAME,) or a["Name"].startswith("memory-writer:"):
            if a["State"] == "ALIVE":
                assert a["Address"]["NodeID"] == head, a["Name"]
    errors = [a.turn_id for a in talk.acked if a.body["trace"].get("error")]
    print(f"\nnode loss: ready after {ready_s:.0f} s; {figures}; node removed after {lost_at} of {total} turns; "
          f"all answered {recovered_s:.0f} s later; turns that ended with an error hand-over: {len(errors)}")

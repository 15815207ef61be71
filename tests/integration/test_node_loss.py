"""Losing a node under load (issue 15, item 5): a Ray cluster of three nodes on this machine
(ray.cluster_utils.Cluster: the head and two workers), the Planner's two replicas spread one per node, 30
conversations talking at once; a worker that hosts a Planner replica is killed mid-run, and the working-memory
holder is killed too (it restarts and rebuilds from the log). Clients resend a message that failed in flight with
the same client_message_id. Serve replaces what the node took (the Planner replica and whichever light replicas
were there); once the app is RUNNING again every conversation sends one more turn. Then: every acknowledged turn
is in the turns log exactly once and no replica is left on the lost node.

Capacity: a node's loss must leave room for its replicas on the nodes that remain (N+1). With one Planner replica
per node at most, the replacement needs the one surviving node without a Planner to have its CPU share free; the
first version of this test gave each node 1 CPU, the head filled up (0.95 of 1) and the replacement waited for
resources forever (the app stayed UNHEALTHY). Each node here has 2 logical CPUs, more than the whole app asks.

Lean on purpose: one cluster for the module, one replica per agent but the Planner; the replicas that load the
embedding model (Intent, Knowledge, Episodes) and the Ingress are asked for on the head, so a worker's loss replaces
only light replicas and the wait for recovery stays short. The single stateful actors (holder, writers, incident
book, monitor) are placed on the head node by the system (memory/placement.py); the holder is killed separately to
prove the other path. Memory is bootstrapped while the cluster starts."""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

ray = pytest.importorskip("ray")

from durability_kit import Talk, check_log

pytestmark = [pytest.mark.ray, pytest.mark.slow]

OPS = "dev-operations-key"
CONVERSATIONS = 30
# The last message is sent only after Serve has replaced the lost replicas: the conversations go on after it.
SCRIPT = ["my mobile data is not working", "I already restarted the phone", "what is the roaming policy in the EU?"]
ON_HEAD = ("Ingress", "Intent", "Knowledge", "Episodes")
NODE_CPUS = 2  # logical: more than the app's whole share (1.8), so either surviving node can take a replacement
AGENTS = ("Ingress", "Planner", "Intent", "Technical", "Knowledge", "Dialogue", "Escalation", "Episodes", "OssBss")


def lean_options(name: str) -> dict:
    from memory.placement import HEAD_RESOURCE
    from serve.deploy_config import _deployments

    base = _deployments()[name]
    actor = {"num_cpus": base["ray_actor_options"]["num_cpus"]}
    if name in ON_HEAD:
        actor["resources"] = {HEAD_RESOURCE: 0.001}
    # autoscaling_config=None: the Ingress class carries config.yaml's autoscaling, which would win over
    # num_replicas. A short graceful shutdown: nothing is in flight when the module ends.
    options = {"max_ongoing_requests": base["max_ongoing_requests"], "ray_actor_options": actor,
               "autoscaling_config": None, "num_replicas": 1, "graceful_shutdown_timeout_s": 2}
    if name == "Planner":
        options.update(num_replicas=2, max_replicas_per_node=1)
    return options


def replica_nodes(deployment: str) -> list[str]:
    from ray._private.state import actors

    return [a["Address"]["NodeID"] for a in actors().values()
            if a["ActorClassName"] == f"ServeReplica:telco:{deployment}" and a["State"] == "ALIVE"]


def singletons() -> dict[str, str]:
    """The cluster's single stateful actors that are alive, by name: their node."""
    from ray._private.state import actors

    from actors.operations.incidents import INCIDENTS_NAME
    from actors.operations.monitor import MONITOR_NAME
    from actors.runtime.conversation_store import HOLDER_NAME

    return {a["Name"]: a["Address"]["NodeID"] for a in actors().values() if a["State"] == "ALIVE" and (
        a["Name"].startswith((HOLDER_NAME, "memory-writer:")) or a["Name"] in (MONITOR_NAME, INCIDENTS_NAME))}


def wait_for(condition, timeout_s: float, every_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while not (ok := condition()) and time.monotonic() < deadline:
        time.sleep(every_s)
    return bool(ok)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from memory_template import bootstrapped_memory
    from ray import serve
    from ray.cluster_utils import Cluster

    import serve.app as serve_app
    from serve.local_app import free_port, wait_ready
    from telco.config import Settings, get_settings

    started = time.monotonic()
    uri = str(tmp_path_factory.mktemp("memory"))
    env = {"TELCO_MEMORY_URI": uri, "TELCO_LIMITS__RATE_PER_MINUTE": "100000", "OMP_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    settings = Settings(memory_uri=uri)
    head = None
    try:
        with ThreadPoolExecutor(1) as pool:
            # The cluster's processes start while this one embeds the KB: the app needs memory only at serve.run.
            booted = pool.submit(bootstrapped_memory, uri)
            # A lost node is noticed after health_check_period_ms x failure_threshold (Ray's default: 3 s x 5).
            head = Cluster(initialize_head=True, head_node_args={
                "num_cpus": NODE_CPUS, "include_dashboard": False,
                "_system_config": {"health_check_period_ms": 1000, "health_check_failure_threshold": 4}})
            workers = [head.add_node(num_cpus=NODE_CPUS, wait=False) for _ in range(2)]
            head.wait_for_nodes(timeout=120)
            ray.init(address=head.address, log_to_driver=False, runtime_env={"env_vars": env})
            booted.result()
        port = free_port()
        # One proxy, on the head: the three nodes share this machine's ports.
        serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
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
        # No serve.shutdown: the cluster is this module's alone, and stopping its nodes stops every replica with
        # them, where Serve would first drain each replica in turn.
        ray.shutdown()
        if head is not None:
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
    lost = [name for name in AGENTS if victim.node_id in replica_nodes(name)]
    holder = ray.get_actor(HOLDER_NAME, namespace="telco")
    head = head_node_id()
    # The stateful singletons run on the head (memory/placement.py), so the worker's loss does not take them.
    placed = singletons()
    assert HOLDER_NAME in placed and set(placed.values()) == {head}, (head, placed)

    paused = len(SCRIPT) - 1
    talk = Talk(cluster["url"], OPS, [list(SCRIPT) for _ in range(CONVERSATIONS)], pause_at=paused)
    with httpx.Client(timeout=60) as client:
        talk.open(client)
    talk.start()
    before = CONVERSATIONS * paused  # the turns sent before the pause
    assert wait_for(lambda: talk.count() >= CONVERSATIONS or talk.errors, 300, every_s=0.05)
    lost_at = talk.count()
    cluster["cluster"].remove_node(victim, allow_graceful=False)  # the node dies: its processes are killed
    ray.kill(holder, no_restart=False)  # and the holder of working memory restarts from the log meanwhile
    removed_at = time.monotonic()
    assert wait_for(lambda: talk.count() >= before or talk.errors, 300)
    answered_s = time.monotonic() - removed_at
    assert not talk.errors, talk.errors
    assert lost_at < before, lost_at  # the node was lost with turns still to answer

    # Serve replaces what the node took with it: the app runs again with both Planner replicas, none on the dead
    # node. Only then does every conversation send its last message.
    def replaced() -> bool:
        return (serve.status().applications["telco"].status == "RUNNING"
                and len(replica_nodes("Planner")) == 2
                and not any(victim.node_id in replica_nodes(name) for name in AGENTS))

    recovered = wait_for(replaced, 180, every_s=0.5)
    replaced_s = time.monotonic() - removed_at
    assert recovered, (serve.status().applications["telco"].message, {n: replica_nodes(n) for n in AGENTS})
    resumed_at = time.monotonic()
    talk.resume()
    talk.join(timeout_s=180)
    assert not talk.errors, talk.errors
    assert talk.count() == CONVERSATIONS * len(SCRIPT)  # every turn was answered, the last ones after recovery
    figures = check_log(cluster["uri"], talk)
    # The singletons were on the head and are there still; the holder restarted there.
    placed = singletons()
    assert HOLDER_NAME in placed and set(placed.values()) == {head}, (head, placed)
    errors = [a.turn_id for a in talk.acked if a.body["trace"].get("error")]
    print(f"\nnode loss: ready after {ready_s:.0f} s; {figures}; the node (with {', '.join(lost)}) removed after "
          f"{lost_at} of {before} turns, all {before} answered {answered_s:.0f} s later; app RUNNING again after "
          f"{replaced_s:.0f} s; {CONVERSATIONS} more turns in {time.monotonic() - resumed_at:.0f} s; "
          f"turns that ended with an error hand-over: {len(errors)}")

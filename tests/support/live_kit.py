"""Who may call the shared live app (tests/integration/live): the development keys, a second customer's key for
cross-customer checks, and keys for the ten customers of the area-outage drill (a generated world)."""
from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache

ADMIN, OPS, C1001 = "dev-admin-key", "dev-operations-key", "dev-customer-c1001-key"
C1002 = "test-customer-c1002-key"
OUTAGE_SEED, OUTAGE_CUSTOMERS, OUTAGE_AFFECTED = 7, 300, 10


@lru_cache(maxsize=1)
def outage_customers() -> tuple[str, list[str]]:
    """Ten active customers on one access node of the generated world, living in the node's area."""
    from telco.sandbox.generator import generate_world

    world = generate_world(OUTAGE_SEED, customers=OUTAGE_CUSTOMERS)
    by_node: dict[str, list[str]] = defaultdict(list)
    for b in world.broadband.values():
        c = world.customers[b.customer_id]
        if c.address.area_id == b.area_id and c.status == "active" and b.customer_id not in by_node[b.access_node_id]:
            by_node[b.access_node_id].append(b.customer_id)
    node, customers = max(by_node.items(), key=lambda kv: len(kv[1]))
    return world.access_nodes[node].area_id, customers[:OUTAGE_AFFECTED]


def outage_key(customer_id: str) -> str:
    return f"key-{customer_id.lower()}"


def api_keys_json() -> str:
    keys = [{"key": ADMIN, "role": "admin", "name": "dev-admin"},
            {"key": OPS, "role": "operations", "name": "dev-operations"},
            {"key": C1001, "role": "customer", "name": "dev-customer-c1001", "customer_id": "C1001"},
            {"key": C1002, "role": "customer", "name": "test-customer-c1002", "customer_id": "C1002"}]
    keys += [{"key": outage_key(c), "role": "customer", "name": c.lower(), "customer_id": c}
             for c in outage_customers()[1]]
    return json.dumps(keys)


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

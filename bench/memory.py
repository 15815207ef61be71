"""Benchmark: episodic memory search and ingest on LanceDB.

Search: N episodes (100k, 1M) with clustered synthetic 384-d unit vectors (episodes about the same issue sit near
one of a few hundred topic centres, like real embeddings do) and a skewed number of episodes per customer. The
table gets the production indexes (BTree on customer_id, then the default HNSW-SQ vector index). We time
similar-episode queries the way EpisodicMemory.similar runs them (customer prefilter, exact ranking of that
customer's rows), the same filter through the ANN index for contrast, and unfiltered ANN search; every top-10
is compared with brute-force numpy search over the same rows for recall@10.

Ingest: episodes per second through the real path (EpisodicMemory.record: redact, embed with all-MiniLM-L6-v2,
commit through the writer) on a smaller count, since the model dominates.

Usage: python bench/memory.py [--sizes 100000 1000000] [--queries 200] [--ingest 2000] [--seed 7]
Last line of output: a one-line JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory.store import TABLES, connect, default_vector_index  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
INTENTS = ["broadband_drops", "slow_broadband", "mobile_data", "no_service", "mms", "roaming", "billing_dispute",
           "goodwill_credit", "plan_upgrade", "moving_house"]


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def synthetic_vectors(rng: np.random.Generator, n: int, centres: np.ndarray, spread: float = 0.6):
    """Unit vectors scattered around topic centres: neighbours are meaningful, as with sentence embeddings."""
    topic = rng.integers(0, len(centres), size=n)
    v = centres[topic] + rng.normal(scale=spread / np.sqrt(centres.shape[1]), size=(n, centres.shape[1]))
    v = v.astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v, topic


def customer_ids(rng: np.random.Generator, n: int, customers: int) -> np.ndarray:
    # About ten episodes per customer on average, plus a heavy tail: 2% of all episodes belong to 50 customers
    # (business accounts, chronic faults), which is where a customer-filtered search has the most rows to rank.
    cust = rng.integers(50, customers, size=n)
    heavy = rng.random(n) < 0.02
    cust[heavy] = rng.integers(0, 50, size=int(heavy.sum()))
    return cust


def load_episodes(store, n: int, seed: int, batch: int = 100_000):
    """Bulk-load n synthetic episodes straight into the table (bulk load, not the online write path)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(300, 384)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    customers = max(1_000, n // 10)
    table = store.table("episodes")
    schema = TABLES["episodes"].schema
    all_vecs = np.empty((n, 384), dtype=np.float32)
    all_cust = np.empty(n, dtype=np.int64)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        vecs, topic = synthetic_vectors(rng, m, centres)
        cust = customer_ids(rng, m, customers)
        all_vecs[start:start + m] = vecs
        all_cust[start:start + m] = cust
        ended = [T0 + timedelta(minutes=int(x)) for x in rng.integers(0, 525_600, size=m)]
        cols = {
            "episode_id": [f"ep-{start + i:08d}" for i in range(m)],
            "customer_id": [f"CUST-{c:07d}" for c in cust],
            "conversation_id": [None] * m, "channel": ["chat"] * m, "issue_key": [None] * m,
            "summary": [f"synthetic episode about topic {t}" for t in topic],
            "intents": [[INTENTS[t % len(INTENTS)]] for t in topic],
            "intent": [INTENTS[t % len(INTENTS)] for t in topic],
            "service_type": ["broadband"] * m, "steps": ["[]"] * m,
            "outcome": rng.choice(["resolved", "escalated", "abandoned"], size=m, p=[0.7, 0.2, 0.1]).tolist(),
            "resolution_minutes": rng.uniform(2, 60, size=m).tolist(), "csat": [None] * m,
            "started_at": ended, "ended_at": ended,
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), 384),
            "playbook": [None] * m, "playbook_version": [None] * m, "prompts": [[]] * m,
        }
        table.add(pa.table(cols, schema=schema))
    return all_vecs, all_cust, centres


def exact_topk(vecs: np.ndarray, idx: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    sims = vecs[idx] @ q
    order = np.argsort(-sims, kind="stable")[:k]
    return [int(idx[i]) for i in order]


def time_queries(table, queries, k: int, where_fn, truth_fn, **tune):
    lat, recalls = [], []
    for q, ctx in queries:
        started = time.perf_counter()
        s = table.search(q).distance_type("cosine")
        if tune.get("exact"):
            s = s.bypass_vector_index()
        where = where_fn(ctx)
        if where:
            s = s.where(where, prefilter=True)
        if tune.get("ef"):
            s = s.ef(tune["ef"])
        if tune.get("nprobes"):
            s = s.nprobes(tune["nprobes"])
        if tune.get("refine"):
            s = s.refine_factor(tune["refine"])
        rows = s.select(["episode_id", "_distance"]).limit(k).to_arrow()
        lat.append((time.perf_counter() - started) * 1000)
        got = {int(e[3:]) for e in rows.column("episode_id").to_pylist()}
        truth = truth_fn(q, ctx)
        if truth:
            recalls.append(len(got & set(truth)) / len(truth))
    lat = np.array(lat)
    return {"p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2),
            f"recall@{k}": round(float(np.mean(recalls)), 4) if recalls else None}


def bench_search(n: int, queries: int, seed: int, k: int = 10) -> dict:
    out: dict = {"episodes": n}
    with tempfile.TemporaryDirectory(prefix=f"bench-mem-{n}-") as tmp:
        store = connect(tmp)
        started = time.perf_counter()
        vecs, cust, centres = load_episodes(store, n, seed)
        out["load_s"] = round(time.perf_counter() - started, 1)
        table = store.table("episodes")
        started = time.perf_counter()
        table.optimize()  # fold the bulk-load fragments and bring the scalar indexes up to date
        out["optimize_s"] = round(time.perf_counter() - started, 1)

        rng = np.random.default_rng(seed + 1)
        by_customer: dict[int, np.ndarray] = {}
        order = np.argsort(cust, kind="stable")
        uniq, starts = np.unique(cust[order], return_index=True)
        bounds = list(starts) + [len(order)]
        for j, c in enumerate(uniq):
            by_customer[int(c)] = order[bounds[j]:bounds[j + 1]]
        picked = rng.choice(n, size=queries, replace=False)  # customers weighted by how often they call
        qv, _ = synthetic_vectors(rng, queries, centres)
        filtered_q = [(qv[i], int(cust[p])) for i, p in enumerate(picked)]
        heaviest = int(uniq[np.argmax(np.diff(bounds))])
        heavy_q = [(q, heaviest) for q, _ in filtered_q[:50]]
        everyone = np.arange(n)
        by_cust = lambda c: f"customer_id = 'CUST-{c:07d}'"  # noqa: E731
        truth_c = lambda q, c: exact_topk(vecs, by_customer[c], q, k)  # noqa: E731
        truth_all = lambda q, c: exact_topk(vecs, everyone, q, k)  # noqa: E731

        # The production path (EpisodicMemory.similar): BTree on customer_id, then exact ranking of those rows.
        time_queries(table, filtered_q[:20], k, by_cust, lambda q, c: None, exact=True)  # warm caches
        out["customer_exact"] = time_queries(table, filtered_q, k, by_cust, truth_c, exact=True)
        out["customer_exact"]["mean_rows_per_customer"] = round(float(np.mean(
            [len(by_customer[c]) for _, c in filtered_q])), 1)
        out["heaviest_customer_exact"] = time_queries(table, heavy_q, k, by_cust, truth_c, exact=True)
        out["heaviest_customer_exact"]["rows"] = int(len(by_customer[heaviest]))

        started = time.perf_counter()
        config = default_vector_index(n)
        table.create_index("vector", config=config)
        out["vector_index"] = type(config).__name__ + f"(partitions={config.num_partitions})"
        out["index_build_s"] = round(time.perf_counter() - started, 1)
        time_queries(table, filtered_q[:20], k, lambda c: None, lambda q, c: None)  # warm the index
        out["customer_exact_after_index"] = time_queries(table, filtered_q, k, by_cust, truth_c, exact=True)
        # For contrast: the same customer filter through the ANN index (what the production path avoids).
        out["customer_ann"] = time_queries(table, filtered_q, k, by_cust, truth_c)
        parts = config.num_partitions
        out["unfiltered_ann"] = time_queries(table, [(q, None) for q, _ in filtered_q], k, lambda c: None,
                                             truth_all)
        out["unfiltered_ann_tuned"] = time_queries(
            table, [(q, None) for q, _ in filtered_q], k, lambda c: None, truth_all,
            nprobes=max(1, parts // 4), refine=5)
        out["unfiltered_ann_tuned"]["nprobes"] = max(1, parts // 4)
        flat = table.search(qv[0]).distance_type("cosine").bypass_vector_index().limit(k)
        started = time.perf_counter()
        for _ in range(3):
            flat.to_arrow()
        out["brute_force_unfiltered_ms"] = round((time.perf_counter() - started) * 1000 / 3, 1)
    out["peak_rss_mb"] = _rss_mb()
    return out


def bench_ingest(count: int, batch: int = 50) -> dict:
    from memory.embed import get_embedder
    from memory.episodic import EpisodicMemory
    from telco.contract.episode import Episode
    from memory.writer import LocalWriter

    rng = np.random.default_rng(3)
    phrases = ["router keeps rebooting every half hour", "mobile data stopped working abroad",
               "picture messages fail to send", "bill has a duplicated charge", "broadband slow in the evening",
               "no signal after a SIM swap", "moving house next month", "wants a bigger data plan"]
    embedder = get_embedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        store = connect(tmp)
        mem = EpisodicMemory(store, LocalWriter(store), embedder)
        eps = [Episode(episode_id=f"e{i}", customer_id=f"CUST-{int(rng.integers(0, 500)):04d}",
                       summary=f"{phrases[i % len(phrases)]}; case {i}, customer tried {int(rng.integers(1, 4))} fixes",
                       intents=[INTENTS[i % len(INTENTS)]], outcome="resolved", started_at=T0, ended_at=T0)
               for i in range(count)]
        started = time.perf_counter()
        for i in range(0, count, batch):
            mem.record(*eps[i:i + batch])
        elapsed = time.perf_counter() - started
        assert store.table("episodes").count_rows() == count
    return {"episodes": count, "batch": batch, "seconds": round(elapsed, 1),
            "episodes_per_s": round(count / elapsed, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--ingest", type=int, default=2_000)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    summary = {"bench": "memory", "seed": args.seed,
               "machine": {"nproc": os.cpu_count(), "python": platform.python_version()}}
    summary["search"] = []
    for n in args.sizes:
        res = bench_search(n, args.queries, args.seed)
        print(json.dumps(res), flush=True)
        summary["search"].append(res)
    if args.ingest:
        res = bench_ingest(args.ingest)
        print(json.dumps(res), flush=True)
        summary["ingest"] = res
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

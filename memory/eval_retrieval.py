"""Retrieval quality on the labelled KB question set: recall@5 for vector-only, full-text-only and hybrid.

Ingests the KB into a memory store (a temporary one unless `uri` is given), asks every question in
telco/data/retrieval_eval.yaml in each mode and counts a hit when the expected section is among the top 5.
"hybrid" is the default score fusion; "hybrid_rrf" is plain reciprocal-rank fusion, reported alongside because
it was the first design and is measurably weaker here (the full-text side drags it below vector-only).
`python -m memory.eval_retrieval` prints per-mode misses and, as its last line, a one-line JSON summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from memory.embed import get_embedder
from memory.semantic import SemanticMemory
from memory.store import connect
from memory.writer import LocalWriter

MODES = ("vector", "fts", "hybrid", "hybrid_rrf")


def run_retrieval_eval(uri: str | None = None, *, k: int = 5, cases=None, docs=None, memory=None,
                       verbose: bool = False) -> dict:
    """recall@k per mode. `memory` reuses an already ingested SemanticMemory (tests); otherwise the KB is
    ingested into `uri` or a temporary directory."""
    from telco.knowledge import load_documents, load_retrieval_eval

    cases = cases if cases is not None else load_retrieval_eval()
    with tempfile.TemporaryDirectory(prefix="retrieval-eval-") as tmp:
        started = time.perf_counter()
        if memory is None:
            store = connect(uri or tmp)
            memory = SemanticMemory(store, LocalWriter(store), get_embedder())
            memory.ingest(docs if docs is not None else load_documents())
        chunks = memory.table.count_rows()
        ingest_s = time.perf_counter() - started
        hits = {m: 0 for m in MODES}
        misses: dict[str, list[dict]] = {m: [] for m in MODES}
        started = time.perf_counter()
        # One batched model call for all questions; every mode then searches with the same vector.
        vectors = memory.embedder.embed([c.question for c in cases])
        for case, vec in zip(cases, vectors):
            for mode in MODES:
                search_mode, fusion = ("hybrid", "rrf") if mode == "hybrid_rrf" else (mode, "score")
                got = [h.section_id for h in memory.search(case.question, k=k, mode=search_mode, fusion=fusion,
                                                           query_vector=vec).hits]
                if case.expected in got:
                    hits[mode] += 1
                else:
                    misses[mode].append({"question": case.question, "expected": case.expected, "got": got})
        query_s = time.perf_counter() - started
    n = len(cases)
    summary = {
        "metric": f"recall@{k}",
        "questions": n,
        "chunks": chunks,
        **{m: round(hits[m] / n, 4) if n else 0.0 for m in MODES},
        # The acceptance bar: hybrid (default score fusion) at least 0.90 and no worse than either retriever alone.
        "hybrid_ok": bool(n) and hits["hybrid"] / n >= 0.90 and hits["hybrid"] >= max(hits["vector"], hits["fts"]),
        "ingest_s": round(ingest_s, 2),
        "mean_query_ms": round(1000 * query_s / max(1, n * len(MODES)), 2),
    }
    if verbose:
        summary["misses"] = misses
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default=None, help="memory store to ingest into (default: a temporary directory)")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    result = run_retrieval_eval(args.uri, k=args.k, verbose=True)
    for mode, items in result.pop("misses").items():
        for m in items:
            print(f"miss [{mode}] {m['question']!r}: expected {m['expected']}, got {m['got'][:3]}", file=sys.stderr)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["hybrid_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

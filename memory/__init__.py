"""Hierarchical memory on LanceDB: working, episodic, semantic (+ knowledge graph), procedural, prompts.

Entry points: store.connect (tables, schemas, indexes), writer (single-writer path: LocalWriter in-process,
RayWriter + the per-group writer actor on a cluster), embed.Embedder, and one module per memory kind. Everything
customer-scoped takes the customer id as a required argument (retrieval.scoped_filter).
"""

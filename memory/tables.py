"""What memory's tables look like: each table's pyarrow schema, key column, indexes, writer group, schema version
and forward migrations, and how a partitioned table is split per shard of the write path.

memory.store creates, migrates and indexes tables from these specs; memory.writer commits to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import pyarrow as pa

from memory.embed import DIM
from telco.errors import InvalidInput

if TYPE_CHECKING:
    import lancedb

Ts = pa.timestamp("us", tz="UTC")
Vec = pa.list_(pa.float32(), DIM)  # sized by the embedding model's output
Str = pa.string()
StrList = pa.list_(pa.string())

Migration = Callable[["lancedb.table.Table"], None]


@dataclass(frozen=True)
class TableSpec:
    """Everything the store needs to create, migrate and index one table."""

    name: str
    schema: pa.Schema
    key: str
    group: str  # tables in one group share a single writer actor
    version: int = 1
    fts: tuple[str, ...] = ()
    btree: tuple[str, ...] = ()
    bitmap: tuple[str, ...] = ()
    vector: str | None = None
    # migrations[v] upgrades a table at version v-1 to version v.
    migrations: dict[int, Migration] = field(default_factory=dict)
    append_only: bool = False  # the writer refuses upserts and deletes (the audit log)
    # Split into one table per shard of the write path (memory/shards.py): "<name>" is shard 0's, "<name>_p<k>"
    # shard k's. Each shard commits to its own table, so shards never contend for one table's next version.
    partitioned: bool = False


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema(list(fields))


def _key(name: str) -> pa.Field:
    return pa.field(name, Str, nullable=False)


def add_missing_columns(table, target: pa.Schema) -> None:
    """A forward migration for additive changes: new nullable columns appear filled with nulls."""
    existing = set(table.schema.names)
    missing = [f for f in target if f.name not in existing]
    if missing:
        table.add_columns([f.with_nullable(True) for f in missing])


TURNS_SCHEMA_V2 = _schema(
    _key("turn_id"),
    pa.field("conversation_id", Str, nullable=False),
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("customer_id", Str),
    pa.field("role", Str, nullable=False),
    pa.field("text", Str),
    pa.field("intents", StrList),
    pa.field("state_patch", Str),  # JSON: how this turn changed the working state
    pa.field("trace", Str),  # JSON: what the system did for this turn (agent rows)
    pa.field("created_at", Ts, nullable=False),
)

EPISODES_SCHEMA_V2 = _schema(
    _key("episode_id"),
    pa.field("customer_id", Str, nullable=False),
    pa.field("conversation_id", Str),
    pa.field("channel", Str),
    pa.field("issue_key", Str),
    pa.field("summary", Str, nullable=False),
    pa.field("intents", StrList),
    pa.field("intent", Str),
    pa.field("service_type", Str),
    pa.field("steps", Str),  # JSON list of telco.contract.episode.EpisodeStep: {name, kind, result, ok}
    pa.field("outcome", Str, nullable=False),
    pa.field("resolution_minutes", pa.float64()),
    pa.field("csat", pa.int32()),
    pa.field("started_at", Ts, nullable=False),
    pa.field("ended_at", Ts, nullable=False),
    pa.field("vector", Vec),
    pa.field("playbook", Str),  # the playbook version that ran the issue (null: none, or a row from before v2)
    pa.field("playbook_version", pa.int64()),
    pa.field("prompts", StrList),  # the prompt versions that served the conversation, e.g. "dialogue@2"
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in [
        TableSpec(
            name="turns",
            group="conversations",
            partitioned=True,
            key="turn_id",
            schema=TURNS_SCHEMA_V2,
            btree=("turn_id", "conversation_id", "customer_id", "created_at"),
            version=2,
            # v2 adds the per-turn trace column.
            migrations={2: lambda table: add_missing_columns(table, TURNS_SCHEMA_V2)},
        ),
        TableSpec(
            name="episodes",
            group="episodes",
            key="episode_id",
            schema=EPISODES_SCHEMA_V2,
            fts=("summary",),
            btree=("episode_id", "customer_id", "issue_key", "started_at", "ended_at"),
            bitmap=("intent", "outcome"),
            vector="vector",
            version=2,
            # v2 adds the typed episode's playbook, playbook_version and prompts (telco.contract.episode); older
            # rows read them as null (memory.episodic.from_row).
            migrations={2: lambda table: add_missing_columns(table, EPISODES_SCHEMA_V2)},
        ),
        TableSpec(
            name="kb_chunks",
            group="knowledge",
            key="chunk_id",
            schema=_schema(
                _key("chunk_id"),
                pa.field("section_id", Str, nullable=False),  # citation handle "<doc_id>#<slug>"
                pa.field("doc_id", Str, nullable=False),
                pa.field("doc_title", Str),
                pa.field("heading", Str),
                pa.field("kind", Str),
                pa.field("services", StrList),
                pa.field("text", Str, nullable=False),
                pa.field("vector", Vec),
            ),
            fts=("text",),
            btree=("chunk_id",),
            bitmap=("doc_id",),
            vector="vector",
        ),
        TableSpec(
            name="kg_edges",
            group="knowledge",
            key="edge_id",
            schema=_schema(
                _key("edge_id"),
                pa.field("src", Str, nullable=False),
                pa.field("src_type", Str),
                pa.field("relation", Str, nullable=False),
                pa.field("dst", Str, nullable=False),
                pa.field("dst_type", Str),
                pa.field("valid_from", Ts, nullable=False),
                pa.field("valid_to", Ts),  # null while the fact holds
                pa.field("evidence_count", pa.int64()),
                pa.field("sources", StrList),
                pa.field("invalidated_by", Str),
            ),
            btree=("edge_id", "src", "dst", "valid_from"),
            bitmap=("relation",),
        ),
        TableSpec(
            name="intent_examples",
            group="knowledge",
            key="example_id",
            schema=_schema(
                _key("example_id"),
                pa.field("intent", Str, nullable=False),
                pa.field("text", Str, nullable=False),
                pa.field("source", Str),
                pa.field("vector", Vec),
            ),
            btree=("example_id",),
            bitmap=("intent",),
            vector="vector",
        ),
        TableSpec(
            # What the intent classifier serves (memory/intent_sets.py): versioned snapshots of examples, each with
            # the calibration fitted on it; exactly one row active, which every Intent replica follows.
            name="intent_sets",
            group="knowledge",
            key="set_id",
            schema=_schema(
                _key("set_id"),  # "v<version>"
                pa.field("version", pa.int64(), nullable=False),
                pa.field("status", Str, nullable=False),
                pa.field("examples", Str, nullable=False),  # JSON [[intent, text], ...]
                pa.field("calibration", Str),  # JSON: the fitted constants (actors.agents.intent.Calibration)
                pa.field("metrics", Str),  # JSON: the publish gate's decision and held-out accuracy before/after
                pa.field("note", Str),
                pa.field("created_at", Ts, nullable=False),
                pa.field("activated_at", Ts),
                pa.field("retired_at", Ts),
            ),
            btree=("set_id",),
            bitmap=("status",),
        ),
        TableSpec(
            name="procedures",
            group="procedural",
            key="procedure_id",
            schema=_schema(
                _key("procedure_id"),  # "<name>@<version>"
                pa.field("name", Str, nullable=False),
                pa.field("version", pa.int64(), nullable=False),
                pa.field("title", Str),
                pa.field("intents", StrList),
                pa.field("service_type", Str),
                pa.field("status", Str, nullable=False),
                pa.field("body", Str, nullable=False),  # the playbook as JSON
                pa.field("created_at", Ts, nullable=False),
                pa.field("activated_at", Ts),
                pa.field("retired_at", Ts),
                pa.field("note", Str),
            ),
            btree=("procedure_id",),
            bitmap=("name", "status"),
        ),
        TableSpec(
            name="procedure_runs",
            group="procedural",
            key="run_id",
            schema=_schema(
                _key("run_id"),
                pa.field("procedure_id", Str, nullable=False),
                pa.field("name", Str, nullable=False),
                pa.field("version", pa.int64(), nullable=False),
                pa.field("outcome", Str, nullable=False),
                pa.field("turns", pa.int64()),
                pa.field("step_outcomes", Str),  # JSON {step_id: "ok"|"failed"|...}
                pa.field("at", Ts, nullable=False),
            ),
            btree=("run_id", "at"),
            bitmap=("procedure_id", "outcome"),
        ),
        TableSpec(
            name="prompts",
            group="procedural",
            key="prompt_id",
            schema=_schema(
                _key("prompt_id"),  # "<role>@<version>"
                pa.field("role", Str, nullable=False),
                pa.field("version", pa.int64(), nullable=False),
                pa.field("text", Str, nullable=False),
                pa.field("status", Str, nullable=False),
                pa.field("metrics", Str),  # JSON {metric: value}
                pa.field("note", Str),
                pa.field("created_at", Ts, nullable=False),
                pa.field("activated_at", Ts),
                pa.field("retired_at", Ts),
            ),
            btree=("prompt_id",),
            bitmap=("role", "status"),
        ),
        TableSpec(
            name="ops_alerts",  # the operations monitor's alerts (actors/operations/monitor.py), append-only
            group="operations",
            key="alert_id",
            schema=_schema(
                _key("alert_id"),
                pa.field("at", Ts, nullable=False),
                pa.field("agent", Str, nullable=False),
                pa.field("metric", Str, nullable=False),
                pa.field("window_s", pa.float64()),
                pa.field("severity", Str, nullable=False),
                pa.field("value", pa.float64()),
                pa.field("threshold", pa.float64()),
                pa.field("body", Str),  # the whole alert as JSON
            ),
            btree=("alert_id", "at"),
            bitmap=("agent", "metric", "severity"),
        ),
        TableSpec(
            name="area_incidents",  # actors/operations/incidents.py: a restarted incident actor reloads the open ones
            group="operations",
            key="incident_id",
            schema=_schema(
                _key("incident_id"),
                pa.field("area_id", Str, nullable=False),
                pa.field("status", Str, nullable=False),
                pa.field("opened_at", Ts, nullable=False),
                pa.field("updated_at", Ts, nullable=False),
                pa.field("body", Str, nullable=False),  # the whole incident as JSON
            ),
            btree=("incident_id", "opened_at"),
            bitmap=("status",),
        ),
        TableSpec(
            # actors/runtime/world_keeper.py: the simulated OSS/BSS world as of its last change (one row), so a
            # restarted OssBss replica or cluster resumes it, hand-offs, account changes and outages included.
            name="sandbox_world",
            group="operations",
            key="world_id",
            schema=_schema(
                _key("world_id"),
                pa.field("world_json", Str, nullable=False),
                pa.field("saved_at", Ts, nullable=False),
            ),
            btree=("world_id",),
        ),
        # -- what the offline learning jobs keep (jobs/) ------------------------------------------------------
        TableSpec(
            name="job_state",
            group="learning",
            key="job",
            schema=_schema(
                _key("job"),
                pa.field("watermark", Ts),  # episodes that ended before (watermark - grace) are done
                pa.field("state", Str),  # JSON: the job's own running totals
                pa.field("updated_at", Ts, nullable=False),
            ),
            btree=("job",),
        ),
        TableSpec(
            name="learned_episodes",
            group="learning",
            key="ledger_id",  # "<job>:<episode_id>": an episode counted by a job once, whatever the reruns
            schema=_schema(
                _key("ledger_id"),
                pa.field("job", Str, nullable=False),
                pa.field("episode_id", Str, nullable=False),
                pa.field("ended_at", Ts, nullable=False),
                pa.field("learned_at", Ts, nullable=False),
            ),
            btree=("ledger_id", "ended_at"),
            bitmap=("job",),
        ),
        TableSpec(
            name="experiments",
            group="procedural",
            key="experiment_id",
            schema=_schema(
                _key("experiment_id"),
                pa.field("playbook", Str, nullable=False),
                pa.field("control_version", pa.int64(), nullable=False),
                pa.field("candidate_version", pa.int64(), nullable=False),
                pa.field("share", pa.float64(), nullable=False),  # of conversations given the candidate
                pa.field("status", Str, nullable=False),  # running | stopped
                pa.field("started_at", Ts, nullable=False),
                pa.field("stopped_at", Ts),
                pa.field("note", Str),
            ),
            btree=("experiment_id",),
            bitmap=("status",),
        ),
        TableSpec(
            name="failure_patterns",
            group="learning",
            key="pattern_id",
            schema=_schema(
                _key("pattern_id"),
                pa.field("playbook", Str),
                pa.field("version", pa.int64()),
                pa.field("intent", Str),
                pa.field("failure_step", Str),  # the playbook step after which the conversation went wrong
                pa.field("trigger", Str),  # what the customer's line/device showed there (JSON)
                pa.field("outcome", Str),
                pa.field("count", pa.int64(), nullable=False),
                pa.field("cost", pa.float64()),
                pa.field("share_of_runs", pa.float64()),
                pa.field("diagnosis", Str),
                pa.field("proposed_fix", Str),  # JSON {kind, ...}
                pa.field("examples", StrList),  # episode ids
                pa.field("detected_at", Ts, nullable=False),
            ),
            btree=("pattern_id",),
            bitmap=("playbook",),
        ),
        # -- knowledge the people running the system add, and the gaps that ask for it ------------------------
        TableSpec(
            name="kb_sections",  # sections added through the admin route (memory/kb_sections.py); kb_chunks indexes them
            group="knowledge",
            key="section_id",
            schema=_schema(
                _key("section_id"),  # "<doc_id>#<slug>"
                pa.field("doc_id", Str, nullable=False),
                pa.field("doc_title", Str, nullable=False),
                pa.field("heading", Str, nullable=False),
                pa.field("body", Str, nullable=False),
                pa.field("kind", Str, nullable=False),
                pa.field("services", StrList),
                pa.field("chunk_ids", StrList),  # the kb_chunks rows it became (a shorter re-post deletes the rest)
                pa.field("content_hash", Str, nullable=False),  # the same text posted again writes nothing
                pa.field("gap_id", Str),  # the knowledge gap it closes
                pa.field("added_by", Str, nullable=False),
                pa.field("added_at", Ts, nullable=False),
                pa.field("updated_at", Ts, nullable=False),
            ),
            btree=("section_id",),
            bitmap=("doc_id",),
        ),
        TableSpec(
            # The vectors of the texts the knowledge agent compares questions with (memory/text_vectors.py): written
            # by bootstrap, read whole by each agent at its start.
            name="text_vectors",
            group="knowledge",
            key="text_id",  # sha256 of the embedder's name and the text
            schema=_schema(
                _key("text_id"),
                pa.field("model", Str, nullable=False),
                pa.field("vector", Vec),
            ),
            btree=("text_id",),
            bitmap=("model",),
        ),
        TableSpec(
            name="kb_gap_questions",  # questions the knowledge agent could not answer, one per turn (jobs.learn)
            group="learning",
            key="question_id",  # the turn's log row id: a rerun rewrites, never adds
            schema=_schema(
                _key("question_id"),
                pa.field("conversation_id", Str, nullable=False),
                pa.field("question", Str, nullable=False),
                pa.field("reason", Str, nullable=False),  # low_score | not_helpful | handed_over
                pa.field("best_score", pa.float64()),
                pa.field("asked_at", Ts, nullable=False),
                pa.field("vector", Vec),
            ),
            btree=("question_id", "asked_at"),
        ),
        TableSpec(
            name="kb_gaps",  # those questions clustered by meaning; rewritten whole by each learn run
            group="learning",
            key="gap_id",
            schema=_schema(
                _key("gap_id"),
                pa.field("question", Str, nullable=False),
                pa.field("examples", StrList),
                pa.field("count", pa.int64(), nullable=False),
                pa.field("best_score", pa.float64()),
                pa.field("reasons", Str),  # JSON {reason: questions}
                pa.field("first_seen", Ts, nullable=False),
                pa.field("last_seen", Ts, nullable=False),
                pa.field("updated_at", Ts, nullable=False),
                pa.field("vector", Vec),  # the cluster's centre
            ),
            btree=("gap_id",),
        ),
        TableSpec(
            name="audit",  # every attempt at an account write (telco/contract/audit.py, memory/audit.py)
            group="audit",  # its own writer: audit commits never queue behind conversations or learning jobs
            key="audit_id",
            append_only=True,
            schema=_schema(
                _key("audit_id"),
                pa.field("at", Ts, nullable=False),
                pa.field("key_id", Str, nullable=False),
                pa.field("role", Str, nullable=False),
                pa.field("conversation_id", Str, nullable=False),
                pa.field("customer_id", Str),
                pa.field("tool", Str, nullable=False),
                pa.field("args", Str),  # JSON, redacted
                pa.field("policy_rules", StrList),
                pa.field("policy_rule", Str),
                pa.field("result", Str, nullable=False),
                pa.field("message", Str),
                pa.field("idempotency_key", Str),
            ),
            btree=("audit_id", "conversation_id", "customer_id", "at"),
            bitmap=("tool", "result"),
        ),
    ]
}

VERSIONS_TABLE = "schema_versions"
VERSIONS_SCHEMA = _schema(_key("table_name"), pa.field("version", pa.int64(), nullable=False),
                           pa.field("migrated_at", Ts, nullable=False))


def partition_name(name: str, shard: int) -> str:
    """The table of one shard of a partitioned table (shard 0 keeps the plain name, so one shard is no change)."""
    return name if shard == 0 else f"{name}_p{shard}"


def partition_of(name: str) -> TableSpec | None:
    """The spec of shard k's table ("<name>_p<k>", k > 0) of a partitioned table; None for any other name."""
    base, sep, k = name.rpartition("_p")
    s = TABLES.get(base) if sep and k.isdigit() and int(k) > 0 and k == str(int(k)) else None
    return replace(s, name=name) if s is not None and s.partitioned else None


def spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        part = partition_of(name)
        if part is not None:
            return part
        raise InvalidInput(f"unknown memory table {name!r}; known tables: {', '.join(sorted(TABLES))}") from None


def groups() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in TABLES.values():
        out.setdefault(s.group, []).append(s.name)
    return out

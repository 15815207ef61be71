"""The tool registry and the one entry point every agent uses: call_tool.

call_tool validates arguments into the tool's pydantic model, runs reads directly, and runs writes
at most once per idempotency key: the ledger in world.applied_writes holds each key's args digest and
result, so a retried write returns the stored result instead of acting twice.
"""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from telco.errors import IdempotencyConflict, InvalidInput
from telco.models import AppliedWrite
from telco.tools.context import ToolContext
from telco.tools.identity import IDENTITY_READS
from telco.tools.reads import READS
from telco.tools.reads_billing import READS_BILLING
from telco.tools.spec import ToolSpec
from telco.tools.writes import WRITES_ACCOUNT
from telco.tools.writes_service import WRITES_SERVICE

TOOLS: dict[str, ToolSpec] = {spec.name: spec for spec in (*IDENTITY_READS, *READS, *READS_BILLING, *WRITES_ACCOUNT,
                                                             *WRITES_SERVICE)}


def _problem(err: dict[str, Any], tool: str) -> str:
    if err["type"] == "missing":
        return "is required"
    if err["type"] == "extra_forbidden":
        return f"is not an argument of {tool}"
    msg = err["msg"]
    # Our validators raise ValueError with a full sentence; pydantic prefixes it with its own label.
    return msg.removeprefix("Value error, ")


def validate_args(spec: ToolSpec, args: dict[str, Any] | None) -> BaseModel:
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidInput(f"arguments of {spec.name} must be an object, got {type(args).__name__}")
    try:
        return spec.args_model.model_validate(args)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "arguments", "problem": _problem(err, spec.name)}
            for err in exc.errors()
        ]
        text = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise InvalidInput(
            f"invalid arguments for {spec.name}: {text}", field=problems[0]["field"], errors=problems
        ) from None


def args_digest(name: str, args: BaseModel) -> str:
    # Digest the validated form, so "+1 555 123 0001" and "+15551230001" count as the same arguments.
    canonical = json.dumps({"tool": name, "args": args.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def get_tool(name: str) -> ToolSpec:
    spec = TOOLS.get(name)
    if spec is None:
        raise InvalidInput(f"unknown tool {name!r}; known tools: {', '.join(sorted(TOOLS))}", field="name")
    return spec


def call_tool(
    ctx: ToolContext, name: str, args: dict[str, Any] | None, idempotency_key: str | None = None
) -> dict[str, Any]:
    """Run one tool and return its result as JSON-ready data; raises the typed errors of telco.errors."""
    spec = get_tool(name)
    validated = validate_args(spec, args)
    if spec.kind == "read":
        return spec.result_model.model_validate(spec.fn(ctx, validated)).model_dump(mode="json")

    if not idempotency_key or not idempotency_key.strip():
        raise InvalidInput(f"{name} changes the account and needs an idempotency_key", field="idempotency_key")
    ledger = ctx.sandbox.world.applied_writes
    digest = args_digest(name, validated)
    prior = ledger.get(idempotency_key)
    if prior is not None:
        if prior.tool != name or prior.args_digest != digest:
            raise IdempotencyConflict(
                f"idempotency key {idempotency_key!r} was already used for {prior.tool} with different arguments",
                key=idempotency_key, tool=prior.tool,
            )
        return copy.deepcopy(prior.result)

    result = spec.result_model.model_validate(spec.fn(ctx, validated)).model_dump(mode="json")
    ledger[idempotency_key] = AppliedWrite(
        key=idempotency_key, tool=name, args_digest=digest, result=result, at=ctx.sandbox.world.clock
    )
    return copy.deepcopy(result)


def tool_schemas(kind: str | None = None) -> list[dict[str, Any]]:
    """Tool definitions as an LLM reads them: name, one-line description, JSON schema of the arguments."""
    return [
        {"name": s.name, "description": s.description, "input_schema": s.input_schema()}
        for s in TOOLS.values() if kind is None or s.kind == kind
    ]

"""The operator's OSS/BSS behind one service: tools run here, against the sandbox (a real adapter would call the
operator's APIs instead). One replica owns the state, so every tool call is applied in one order.

Errors travel back as data (ToolOutcome.error) rather than exceptions, so a policy refusal is an answer the
playbook can branch on and never looks like a crashed replica to the caller's retry logic.
"""
from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, Field

from actors.runtime.audit_trail import AuditTrail, is_write, judged
from actors.runtime.backend_cache import READS, queued_while_down, system_of
from actors.runtime.outbox import Outbox, QueuedWrite
from telco.contract.messages import Identity
from telco.contract.principal import Principal
from telco.errors import BackendUnavailable, InvalidInput, TelcoError, error_from_dict
from telco.sandbox import handoff_queue
from telco.sandbox.customer_steps import apply_customer_step, list_customer_steps
from telco.sandbox.faults import inject_fault, list_faults
from telco.sandbox.state import Sandbox
from telco.tools import TOOLS
from telco.tools.port import LocalToolPort


class ToolOutcome(BaseModel):
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    identity: Identity


class Chaos(BaseModel):
    """Injected trouble for drills and tests: every tool call slowed, and/or whole systems unavailable."""

    latency_ms: float = Field(default=0, ge=0, le=60_000, strict=True)  # a JSON number (not `false`)
    unavailable: list[Literal["oss", "bss", "crm"]] = []  # systems that are down (telco/data/backends.yaml)


class OssBss:
    def __init__(self, world: str | dict[str, Any] = "demo", audit: Any = None, keeper: Any = None) -> None:
        """`audit`: a memory.audit.AuditLog that every write attempt is appended to (None: kept in this process).
        `keeper`: an actors.runtime.world_keeper.WorldKeeper that keeps every change to the world in memory; the
        world it kept, if any, is where this service starts (a replaced replica, a restarted cluster)."""
        self.keeper = keeper
        kept = keeper.load() if keeper is not None else None
        self.sandbox = Sandbox.from_json(kept) if kept else _build(world)
        self.chaos = Chaos()
        self.outbox = Outbox()  # writes held while their system is down (actors/runtime/outbox.py)
        self.audit = AuditTrail(audit)

    async def _kept(self, answer: Any) -> Any:
        """`answer`, once the change that produced it is kept (reads change nothing and skip this)."""
        if self.keeper is not None:
            await self.keeper.keep(self.sandbox.dump_json)
        return answer

    async def call_tool(self, conversation_id: str, identity: Identity, name: str, args: dict[str, Any],
                        idempotency_key: str | None = None, principal: Principal | None = None) -> ToolOutcome:
        """`principal`: who asked (the API key behind the turn), named in the audit row of a write."""
        if self.chaos.latency_ms:
            await asyncio.sleep(self.chaos.latency_ms / 1000)
        if system_of(name) in self.chaos.unavailable:
            if name in queued_while_down():
                receipt = self.outbox.hold(system_of(name), conversation_id, identity, name, args, idempotency_key,
                                           principal)
                await self._audit(principal, conversation_id, identity, name, args, idempotency_key, "queued",
                                  message=receipt["message"])
                return ToolOutcome(result=receipt, identity=identity)
            error = BackendUnavailable(f"the {system_of(name).upper()} system is unavailable ({name})",
                                       system=system_of(name), tool=name).to_dict()
            if is_write(name):
                await self._audit(principal, conversation_id, identity, name, args, idempotency_key,
                                  *judged(error))
            return ToolOutcome(error=error, identity=identity)
        return await self._run(conversation_id, identity, name, args, idempotency_key, principal)

    async def _run(self, conversation_id: str, identity: Identity, name: str, args: dict[str, Any],
                   idempotency_key: str | None, principal: Principal | None = None) -> ToolOutcome:
        port = LocalToolPort(self.sandbox, conversation_id, identity.verified_customer_id, identity.failed_attempts)
        # Known before the call: the registry answers a key it already applied with the stored result.
        replay = idempotency_key in self.sandbox.world.applied_writes if idempotency_key else False
        try:
            result = await port.call(name, args, idempotency_key)
            error = None
        except TelcoError as err:
            result, error = None, err.to_dict()
        after = Identity(verified_customer_id=port.verified_customer_id, failed_attempts=port.failed_identity_attempts)
        if is_write(name):
            verdict = ("replayed", None, None) if replay and error is None else judged(error)
            await self._audit(principal, conversation_id, after, name, args, idempotency_key, *verdict)
        outcome = ToolOutcome(result=result, error=error, identity=after)
        return outcome if name in TOOLS and TOOLS[name].kind == "read" else await self._kept(outcome)

    async def _audit(self, principal: Principal | None, conversation_id: str, identity: Identity, name: str,
                     args: dict[str, Any], key: str | None, result: Any, rule: str | None = None,
                     message: str | None = None) -> None:
        customer = identity.verified_customer_id or (args or {}).get("customer_id")
        await self.audit.record(principal=principal, conversation_id=conversation_id,
                                customer_id=customer if isinstance(customer, str) else None, tool=name,
                                args=args if isinstance(args, dict) else {"args": args}, idempotency_key=key,
                                result=result, rule=rule, message=message)

    # ---- sandbox administration (admin API and the scripted customer) ------------------------------------
    async def load_world(self, spec: str | dict[str, Any]) -> dict[str, Any]:
        self.sandbox = _build(spec)
        self.outbox.clear()
        w = self.sandbox.world
        return await self._kept({"customers": len(w.customers), "lines": len(w.lines), "broadband": len(w.broadband),
                                 "clock": w.clock.isoformat()})

    async def dump_world(self) -> str:
        return self.sandbox.dump_json()

    async def inject_fault(self, name: str, customer_id: str, service_id: str | None = None,
                           params: dict[str, Any] | None = None) -> dict[str, Any]:
        inject_fault(self.sandbox, name, customer_id, service_id, **(params or {}))
        return await self._kept({"fault": name, "customer_id": customer_id, "service_id": service_id})

    async def apply_customer_step(self, step_id: str, customer_id: str, service_id: str | None = None) -> dict[str, Any]:
        return await self._kept(apply_customer_step(self.sandbox, step_id, customer_id, service_id))

    async def catalogue(self) -> dict[str, Any]:
        return {
            "faults": [f.model_dump(mode="json") for f in list_faults()],
            "customer_steps": [s.model_dump(mode="json") for s in list_customer_steps()],
            "tools": [{"name": t.name, "kind": t.kind, "description": t.description} for t in TOOLS.values()],
        }

    async def ping(self) -> str:
        return "ok"

    # ---- operations: drills, network recovery, the handoff queue -----------------------------------------
    async def set_chaos(self, chaos: dict[str, Any]) -> dict[str, Any]:
        self.chaos = Chaos.model_validate(chaos)
        applied = await self.outbox.release(lambda system: system not in self.chaos.unavailable, self._apply_queued)
        return await self._kept({**self.chaos.model_dump(), "queued_writes_applied": applied})

    async def _apply_queued(self, write: QueuedWrite) -> dict[str, Any]:
        outcome = await self._run(write.conversation_id, write.identity, write.tool, write.args,
                                  write.idempotency_key, write.principal)
        return {"result": outcome.result, "error": outcome.error}

    async def restore_area(self, area_id: str) -> dict[str, Any]:
        from telco.sandbox.recovery import restore_area

        return await self._kept(restore_area(self.sandbox, area_id))

    async def handoffs(self, op: str, *args: Any) -> Any:
        """The handoff queue: op is list, get, claim, check_holder or resolve (telco/sandbox/handoff_queue.py)."""
        if op == "list":
            return [h.model_dump(mode="json") for h in handoff_queue.list_handoffs(self.sandbox, *args)]
        fn = {"get": handoff_queue.get_handoff, "claim": handoff_queue.claim_handoff,
              "check_holder": handoff_queue.check_holder, "resolve": handoff_queue.resolve_handoff}.get(op)
        if fn is None:
            raise InvalidInput(f"unknown handoff operation {op!r}")
        answer = fn(self.sandbox, *args).model_dump(mode="json")
        return await self._kept(answer) if op in ("claim", "resolve") else answer


def _build(spec: str | dict[str, Any]) -> Sandbox:
    if spec == "demo":
        return Sandbox.demo()
    if isinstance(spec, dict) and set(spec) <= {"seed", "customers"} and "seed" in spec:
        from telco.sandbox.generator import generate_world

        return Sandbox(generate_world(int(spec["seed"]), customers=int(spec.get("customers", 1000))))
    if isinstance(spec, dict) and "world_json" in spec:
        return Sandbox.from_json(spec["world_json"])
    raise InvalidInput("world must be \"demo\", {\"seed\": N, \"customers\": M} or {\"world_json\": \"...\"}")


class RemoteToolPort:
    """A ToolPort whose tools run in the OSS/BSS service behind a Serve handle (or any object with call_tool)."""

    def __init__(self, service: Any, conversation_id: str, identity: Identity,
                 principal: Principal | None = None) -> None:
        self.service = service
        self.conversation_id = conversation_id
        self.principal = principal  # who asked: travels with every call, for the audit log
        self.verified_customer_id = identity.verified_customer_id
        self.failed_identity_attempts = identity.failed_attempts
        self.calls: list[dict[str, Any]] = []  # for the turn's trace

    @property
    def identity(self) -> Identity:
        return Identity(verified_customer_id=self.verified_customer_id, failed_attempts=self.failed_identity_attempts)

    async def call(self, name: str, args: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        who = self.verified_customer_id
        outcome = await _invoke(self.service.call_tool, self.conversation_id, self.identity, name, args,
                                idempotency_key, self.principal)
        self.verified_customer_id = outcome.identity.verified_customer_id
        self.failed_identity_attempts = outcome.identity.failed_attempts
        error = outcome.error
        cached = READS.get(name, args, who) if error and error.get("code") == "backend_unavailable" else None
        self.calls.append({"name": name, "kind": TOOLS[name].kind if name in TOOLS else "read", "args": args,
                           "ok": error is None or cached is not None,
                           "error": (error["message"] + ("; answered from cache" if cached is not None else ""))
                           if error else None})
        if cached is not None:
            return cached
        if error is not None:
            raise error_from_dict(error)
        READS.put(name, args, who, outcome.result or {})
        return outcome.result or {}


async def _invoke(method: Any, *args: Any) -> Any:
    """Call a Serve handle method (has .remote) or a plain async method with the same arguments."""
    if hasattr(method, "remote"):
        return await method.remote(*args)
    return await method(*args)

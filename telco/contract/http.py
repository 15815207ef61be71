"""The HTTP contract: request and response bodies of the public API (FastAPI renders them at /docs)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator

from telco.contract.body import Body, JsonInt
from telco.contract.limits import MAX_MESSAGE_CHARS, MAX_WORLD_CUSTOMERS
from telco.contract.messages import Citation, IntentScore, Mode
from telco.contract.trace import TurnTrace


class NewConversation(Body):
    customer_id: str | None = Field(default=None, pattern=r"^C\d{4,9}$")
    channel: Literal["chat", "app", "voice", "email"] = "chat"


class ConversationCreated(Body):
    conversation_id: str
    customer_id: str | None
    channel: str


class StepResult(Body):
    """The outcome of a customer step the system asked for: what the customer did and saw."""

    step_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    observation: dict[str, Any]
    done: bool = Field(default=True, strict=True)  # False: the customer could not or would not do it


class MessageIn(Body):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    step_results: list[StepResult] = Field(default=[], max_length=10)
    # A client that did not get an answer (a dropped connection, a node lost mid-turn) sends the same message again
    # with the same id: a turn already applied is answered from the log, never applied twice.
    client_message_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the client's id for this message; resending it returns the turn already applied")


class CustomerStepOut(Body):
    step_id: str
    instruction: str


class Question(Body):
    """The answer the system is waiting for, typed so a client can render the right input."""

    slot: str
    kind: str
    text: str
    options: list[str] = []  # for kind "choice": the intents the customer is asked to choose between


class ActionOut(Body):
    tool: str
    summary: str
    result: dict[str, Any] = {}


class HandoffOut(Body):
    handoff_id: str | None
    queue: str
    reason: str
    # The situation called for a person (a PUK lock, a policy limit, the customer's wish), as opposed to the
    # system giving up or failing: only the second kind is a failure to learn from.
    called_for: bool = False


class TurnOut(Body):
    turn_id: str
    conversation_id: str
    reply: str
    mode: Mode
    intents: list[IntentScore] = []
    customer_steps: list[CustomerStepOut] = []
    question: Question | None = None
    actions_taken: list[ActionOut] = []
    citations: list[Citation] = []
    informed: list[str] = []  # notice ids of what the customer was told (stable, machine-readable)
    handoff: HandoffOut | None = None
    status: Literal["open", "waiting_customer", "resolved", "handed_off"] = "open"
    trace: TurnTrace = TurnTrace()


class TranscriptTurn(Body):
    turn_id: str
    at: datetime
    customer: str
    reply: str
    mode: Mode
    trace: TurnTrace


class ConversationOut(Body):
    conversation_id: str
    customer_id: str | None
    channel: str
    status: str
    turns: list[TranscriptTurn]


class FeedbackIn(Body):
    csat: JsonInt = Field(ge=1, le=5)
    resolved: bool = Field(strict=True)
    comment: str | None = Field(default=None, max_length=2000)


class ErrorOut(Body):
    code: str
    message: str
    details: dict[str, Any] | None = None


# ---- probes and sandbox administration (added for the ingress; admin role only for the sandbox) -----------------
class HealthOut(Body):
    status: Literal["ok"] = "ok"


class ReadyOut(Body):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]  # component -> "ok" or what is wrong with it


class DemoWorldIn(Body):
    """The demo fixture."""

    fixture: Literal["demo"]

    def spec(self) -> str:
        """What OssBss.load_world takes."""
        return self.fixture


class GeneratedWorldIn(Body):
    """A generated world. Its size is bounded: generating takes seconds per thousand customers on the serving
    replica, and every tool call waits meanwhile (bench/generator.py builds the big ones offline)."""

    # JSON numbers, like every number of a request body (`false` is not a seed); flags are strict booleans.
    seed: JsonInt = Field(ge=0, le=2**32 - 1)
    customers: JsonInt = Field(default=MAX_WORLD_CUSTOMERS, ge=1, le=MAX_WORLD_CUSTOMERS)

    def spec(self) -> dict[str, int]:
        return {"seed": self.seed, "customers": self.customers}


def _world_kind(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    generated = "seed" in data or "customers" in data
    return None if ("fixture" in data) == generated else ("generated" if generated else "demo")


# Either a named fixture or a generated world, exactly one: the two bodies refuse each other's fields.
LoadWorldIn = Annotated[
    Annotated[DemoWorldIn, Tag("demo")] | Annotated[GeneratedWorldIn, Tag("generated")],
    Discriminator(_world_kind, custom_error_type="world_kind",
                  custom_error_message='give either fixture ("demo") or {seed, customers}, not both and not neither'),
]


def _catalogue_names(kind: Literal["faults", "steps"]) -> list[str]:
    if kind == "faults":
        from telco.sandbox.faults import list_faults

        return sorted(f.name for f in list_faults())
    from telco.sandbox.customer_steps import list_customer_steps

    return sorted(s.id for s in list_customer_steps())


def _known(kind: Literal["faults", "steps"], value: str) -> str:
    if value not in _catalogue_names(kind):
        listed = "faults" if kind == "faults" else "customer-steps"
        raise ValueError(f"{value!r} is not in the catalogue (GET /v1/admin/sandbox/{listed})")
    return value


def _enum_of(field: str, kind: Literal["faults", "steps"]) -> Any:
    # The catalogue is data: the schema lists it when the OpenAPI document is built, not when this module loads.
    def extra(schema: dict[str, Any]) -> None:
        schema["properties"][field]["enum"] = _catalogue_names(kind)
    return extra


class FaultIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_enum_of("name", "faults"))
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    customer_id: str = Field(pattern=r"^C\d{4,9}$")
    service_id: str | None = Field(default=None, min_length=1, max_length=64)
    params: dict[str, Any] = {}

    @field_validator("name")
    @classmethod
    def _fault_known(cls, value: str) -> str:
        return _known("faults", value)


class CustomerStepIn(Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_enum_of("step_id", "steps"))
    step_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    customer_id: str = Field(pattern=r"^C\d{4,9}$")
    service_id: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("step_id")
    @classmethod
    def _step_known(cls, value: str) -> str:
        return _known("steps", value)

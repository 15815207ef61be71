"""`telco chat` against the real ingress app in-process (FakePlanner behind it, the real OSS/BSS sandbox)."""
import asyncio

import httpx
import pytest
from pydantic import SecretStr

from actors.runtime.oss_bss import OssBss
from serve.ingress import create_app
from serve_fakes import FakePlanner, Local
from cli.chat import Chat
from telco.config import ApiKey, Settings

KEYS = [ApiKey(key=SecretStr("admin-secret-1"), role="admin", name="root"),
        ApiKey(key=SecretStr("ops-secret-1"), role="operations", name="ops")]


def run_chat(inputs, *, customer="C1001", stream=True, admin=True):
    planner = FakePlanner()
    app = create_app(Local(planner), Local(OssBss("demo")), Settings(api_keys=KEYS))
    said, asked = [], []
    script = iter(inputs)

    def ask(prompt):
        asked.append(prompt)
        try:
            return next(script)
        except StopIteration:
            raise EOFError from None

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            chat = Chat(client, "ops-secret-1", ask, said.append,
                        admin_key="admin-secret-1" if admin else None, stream=stream)
            return await chat.run(customer)

    code = asyncio.run(go())
    return code, planner, said, asked


@pytest.mark.parametrize("stream", [True, False])
def test_a_step_done_on_the_simulated_device_goes_back_as_its_observation(stream):
    code, planner, said, asked = run_chat(["my internet keeps dropping", "", "ok what now", "/quit"], stream=stream)
    assert code == 0
    (conv,) = planner.conversations.values()
    first, second = conv["messages"]
    assert first.text == "my internet keeps dropping" and first.step_results == []
    (result,) = second.step_results
    assert result.step_id == "restart_router" and result.done
    assert result.observation["powered"] is True and result.observation["lights"]["power"] == "green"
    assert second.text == "ok what now"
    replies = [s for s in said if s.startswith("agent> ")]
    assert len(replies) == 2 and "restart your router" in replies[0]
    assert asked[-1].startswith("  result")  # /quit at a step prompt leaves at once
    assert any(s.startswith("  step  Turn the router off and on again.") for s in said)
    assert any("Enter = do it on the simulated device" in a for a in asked)


def test_typed_and_refused_steps():
    code, planner, said, _ = run_chat(["internet drops", "lights are red", "", "n", "", "/quit"], admin=False)
    (conv,) = planner.conversations.values()
    typed, refused = conv["messages"][1].step_results[0], conv["messages"][2].step_results[0]
    assert typed.observation == {"reported": "lights are red"} and typed.done
    assert conv["messages"][1].text == "done"  # an empty message after step results still sends them
    assert refused.done is False and refused.observation == {}


def test_api_errors_are_shown_and_the_chat_goes_on():
    code, planner, said, _ = run_chat(["x" * 5000, "hello", "/quit"])
    assert code == 0
    assert any(s.startswith("  error 422 invalid_input") for s in said)
    assert planner.turns == 1


def test_a_refused_start_ends_the_chat_with_the_reason():
    code, planner, said, _ = run_chat(["hi"], customer="C99")
    assert code == 1 and "422 invalid_input" in said[-1] and planner.conversations == {}


def test_a_step_the_sandbox_cannot_do_falls_back_to_asking():
    # C1003 has no broadband in the demo world (checked below), so the router step cannot run on a device.
    from telco.sandbox.state import Sandbox

    assert Sandbox.demo().broadband_of("C1003") == []
    code, planner, said, _ = run_chat(["internet drops", "", "router is off", "", "/quit"], customer="C1003")
    (conv,) = planner.conversations.values()
    (result,) = conv["messages"][1].step_results
    assert result.observation == {"reported": "router is off"}
    # A step that does not fit the customer's world is a conflict with the world's state, not a malformed request.
    assert any(s.startswith("  error 409 conflict") and "no broadband service" in s for s in said)

"""`telco chat`: a conversation with the running system from the terminal, over the public HTTP API.

Replies stream in as server-sent events. When the system asks for customer steps, each one is shown and the
user answers it: Enter performs the step on the simulated device (through the sandbox admin API, when an admin
key is available) and sends back what the device then shows; `n` says the step could not be done; any other text
is sent as what the customer saw.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, Callable

import httpx

from serve.sse import MEDIA_TYPE, parse_events
from telco.config import Settings, get_settings

Ask = Callable[[str], str]
Say = Callable[[str], None]
QUIT = {"/quit", "/exit", "/q"}


class ChatError(Exception):
    """The API refused a request; carries its ErrorOut message."""


class _Quit(Exception):
    pass


def _error_text(r: httpx.Response) -> str:
    try:
        body = r.json()
        return f"{r.status_code} {body.get('code', 'error')}: {body.get('message', r.text)}"
    except ValueError:
        return f"{r.status_code}: {r.text[:200]}"


class Chat:
    def __init__(self, client: httpx.AsyncClient, key: str, ask: Ask, say: Say, *, admin_key: str | None = None,
                 stream: bool = True) -> None:
        self.client, self.ask, self.say = client, ask, say
        self.headers = {"Authorization": f"Bearer {key}"}
        self.admin_headers = {"Authorization": f"Bearer {admin_key}"} if admin_key else None
        self.stream = stream
        self.conversation_id: str | None = None
        self.customer_id: str | None = None

    async def _post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
        r = await self.client.post(path, json=body, headers=headers or self.headers)
        if r.status_code >= 400:
            raise ChatError(_error_text(r))
        return r.json()

    async def start(self, customer_id: str | None, channel: str = "chat") -> str:
        body: dict[str, Any] = {"channel": channel}
        if customer_id:
            body["customer_id"] = customer_id
        created = await self._post("/v1/conversations", body)
        self.conversation_id, self.customer_id = created["conversation_id"], created.get("customer_id")
        return self.conversation_id

    async def send(self, text: str, step_results: list[dict[str, Any]]) -> dict[str, Any]:
        path = f"/v1/conversations/{self.conversation_id}/messages"
        body = {"text": text, "step_results": step_results}
        if not self.stream:
            turn = await self._post(path, body)
            self.say(f"agent> {turn['reply']}")
            return turn
        return await self._send_streaming(path, body)

    async def _send_streaming(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {**self.headers, "Accept": MEDIA_TYPE}
        async with self.client.stream("POST", path, json=body, headers=headers) as r:
            if r.status_code >= 400:
                await r.aread()
                raise ChatError(_error_text(r))
            parts: list[str] = []
            done: dict[str, Any] | None = None
            buffer = ""
            async for text in r.aiter_text():
                buffer += text
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    (name, data), = parse_events(block + "\n\n")
                    if name == "delta":
                        parts.append(data["text"])
                    elif name == "done":
                        done = data
        if done is None:
            raise ChatError("the stream ended without a `done` event")
        self.say("agent> " + "".join(parts))
        return done

    async def _customer_id(self) -> str | None:
        if self.customer_id is None:  # the conversation may have identified the customer since it started
            r = await self.client.get(f"/v1/conversations/{self.conversation_id}", headers=self.headers)
            if r.status_code == 200:
                self.customer_id = r.json().get("customer_id")
        return self.customer_id

    async def answer_steps(self, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        for step in steps:
            self.say(f"  step  {step['instruction']}")
            can_apply = self.admin_headers is not None and await self._customer_id() is not None
            hint = "Enter = do it on the simulated device, " if can_apply else ""
            reply = self.ask(f"  result ({hint}n = couldn't, or type what you saw)> ").strip()
            if reply in QUIT:
                raise _Quit
            if reply.lower() in ("n", "no"):
                results.append({"step_id": step["step_id"], "observation": {}, "done": False})
            elif reply == "" and can_apply:
                try:
                    observation = await self._post("/v1/admin/sandbox/customer-steps",
                                                   {"step_id": step["step_id"], "customer_id": self.customer_id},
                                                   headers=self.admin_headers)
                except ChatError as err:  # e.g. the customer has no such device: let the user answer instead
                    self.say(f"  error {err}")
                    reply = self.ask("  result (type what you saw, or n)> ").strip()
                    done = reply.lower() not in ("n", "no")
                    results.append({"step_id": step["step_id"], "observation": {"reported": reply} if done else {},
                                    "done": done})
                    continue
                self.say(f"  saw   {json.dumps(observation)}")
                results.append({"step_id": step["step_id"], "observation": observation, "done": True})
            else:
                results.append({"step_id": step["step_id"], "observation": {"reported": reply or "done"},
                                "done": True})
        return results

    def show(self, turn: dict[str, Any]) -> None:
        for action in turn.get("actions_taken", []):
            self.say(f"  done  {action['summary']}")
        for c in turn.get("citations", []):
            self.say(f"  see   {c['title']} - {c['heading']}")
        if turn.get("handoff"):
            self.say(f"  handed to a person ({turn['handoff']['queue']}): {turn['handoff']['reason']}")
        if turn.get("status") in ("resolved", "handed_off"):
            self.say(f"  [{turn['status']}]")

    async def run(self, customer_id: str | None) -> int:
        try:
            cid = await self.start(customer_id)
        except (ChatError, httpx.HTTPError) as err:
            self.say(f"could not start a conversation: {err}")
            return 1
        self.say(f"conversation {cid} (type /quit to leave)")
        pending: list[dict[str, Any]] = []
        while True:
            try:
                results = await self.answer_steps(pending) if pending else []
                text = self.ask("you> ").strip()
            except (EOFError, _Quit):
                return 0
            if text in QUIT:
                return 0
            if not text:
                if not results:
                    continue
                text = "done"
            try:
                turn = await self.send(text, results)
            except ChatError as err:
                self.say(f"  error {err}")
                continue
            except httpx.HTTPError as err:
                self.say(f"lost the connection to the API ({type(err).__name__}: {err})")
                return 1
            self.show(turn)
            pending = turn.get("customer_steps", [])


def _dev_key(settings: Settings, role: str) -> str | None:
    if not settings.using_dev_keys:
        return None
    return next((k.key.get_secret_value() for k in settings.api_keys if k.role == role), None)


def cmd_chat(args: argparse.Namespace) -> int:
    settings = get_settings()
    key = args.key or _dev_key(settings, "operations")
    if not key:
        print("no API key: pass --key (the development keys are not configured here)", file=sys.stderr)
        return 2
    admin_key = args.admin_key or _dev_key(settings, "admin")
    url = args.url or settings.serve.url

    async def main() -> int:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            chat = Chat(client, key, input, print, admin_key=admin_key, stream=not args.no_stream)
            return await chat.run(args.customer)

    return asyncio.run(main())


def add_commands(sub: argparse._SubParsersAction) -> None:
    chat = sub.add_parser("chat", help="talk to the running system from the terminal")
    chat.add_argument("--url", help="API base URL (default: from settings, http://127.0.0.1:8000)")
    chat.add_argument("--key", help="API key (default: the development operations key)")
    chat.add_argument("--admin-key", help="admin key used to perform customer steps on the simulated devices")
    chat.add_argument("--customer", help="the customer id, when already known (e.g. C1001)")
    chat.add_argument("--no-stream", action="store_true", help="plain JSON replies instead of server-sent events")
    chat.set_defaults(func=cmd_chat)

"""The three web screens in a real browser (Debian's Chromium driven by Playwright) against the real app on a local
Ray cluster: a customer fixes dropping internet in /chat, a person takes a conversation over in /desk while the
customer watches, /ops shows the turns and an alert a planted fault raised, customer-written markup stays text, and
a customer key is refused the operator screens. Screenshots go to docs/screenshots/ (the README shows them)."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

ray = pytest.importorskip("ray")
sync_api = pytest.importorskip("playwright.sync_api")

from live_kit import ADMIN, C1001, OPS  # noqa: E402

from actors.operations.monitor import MonitorConfig  # noqa: E402
from telco.models import World  # noqa: E402
from telco.sandbox import observe  # noqa: E402
from telco.sandbox.state import Sandbox  # noqa: E402
from telco.scenarios import load_scenarios  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (CI runs as root), and nothing that reaches the network on its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
MARKUP = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> is this safe?'
TURN_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the Debian package chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def new_page(browser, app):
    """A page in a fresh browser context (its own sessionStorage), failing the test on any page error or CSP
    violation report in the console."""
    contexts, problems = [], []

    def make():
        ctx = browser.new_context(base_url=app["url"], viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(TURN_TIMEOUT_MS)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append(f"console: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text else None)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not problems, problems


def h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def admin(app, path: str, body: dict) -> dict:
    r = httpx.post(app["url"] + path, headers=h(ADMIN), json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def sign_in(page, path: str, key: str) -> None:
    page.goto(path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Continue").click()
    if path == "/chat":
        page.wait_for_selector("#messages[data-conversation]")  # the conversation is open


def last_agent_turn(page):
    """Waits for the reply in progress to finish; returns the newest assistant message."""
    # Locators, not wait_for_function: the page's CSP forbids the eval that a string predicate needs.
    page.locator("#messages [aria-busy]").wait_for(state="detached")
    page.wait_for_selector("#messages li.msg.agent[data-status]", state="attached")
    return page.locator("#messages li.msg.agent[data-status]").last


def tile_at_least(page, metric: str, n: int, timeout_s: float = 30) -> None:
    value = page.locator(f".tile[data-metric='{metric}'] dd")
    deadline = time.monotonic() + timeout_s
    while True:
        text = value.inner_text() if value.count() else ""
        if text.isdigit() and int(text) >= n:
            return
        assert time.monotonic() < deadline, f"{metric} shows {text!r}, expected at least {n}"
        page.wait_for_timeout(500)


def new_alert(app, metric: str, since: datetime, timeout_s: float = 30) -> dict:
    """The newest alert on `metric` raised from `since` (the monitor is fed without waiting: it may come later)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = httpx.get(app["url"] + "/v1/ops/alerts", headers=h(OPS), timeout=60).json()
        mine = [a for a in alerts if a["metric"] == metric and datetime.fromisoformat(a["at"]) >= since]
        if mine:
            return mine[0]
        assert time.monotonic() < deadline, f"no {metric} alert since {since}: {alerts[:10]}"
        time.sleep(0.5)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# ---- a customer fixes dropping internet in /chat ---------------------------------------------------------------
def test_customer_resolves_dropping_internet_in_the_chat(app, new_page):
    scenario = next(s for s in load_scenarios() if s.id == "bb-drops-overheating-wfh")
    admin(app, "/v1/admin/sandbox/world", {"fixture": "demo"})
    for fault in scenario.faults:
        admin(app, "/v1/admin/sandbox/faults", {"name": fault.name, "customer_id": scenario.customer_id,
                                                "service_id": fault.service_id, "params": fault.params})
    page = new_page()
    sign_in(page, "/chat", C1001)
    page.get_by_label("Your message").fill(scenario.message.strip())
    page.get_by_role("button", name="Send").click()
    for _ in range(12):  # every step asked for is done on the (simulated) device with the Done button
        turn = last_agent_turn(page)
        status = turn.get_attribute("data-status")
        if status in ("resolved", "handed_off"):
            break
        done = page.locator("#step-list button.done:not([disabled])")
        assert done.count() > 0, f"the conversation waits with nothing to do (status {status})"
        before = page.locator("#messages li.msg.agent").count()
        for i in range(done.count()):
            done.first.click()
        sync_api.expect(page.locator("#messages li.msg.agent")).to_have_count(before + 1, timeout=TURN_TIMEOUT_MS)
    assert status == "resolved", page.locator("#messages").inner_text()
    assert page.locator("#takeover").is_hidden()
    assert page.locator("#messages li.msg.agent .who").first.inner_text().startswith("Assistant")
    link = page.locator("#messages a[href^='/kb/']")
    if link.count():  # citations link to the KB section they quote
        assert re.match(r"^/kb/[a-z0-9-]+#[a-z0-9-]+$", link.first.get_attribute("href"))
    # The end state, read from the simulated world: the router no longer drops.
    world = Sandbox(World.model_validate_json(
        httpx.get(app["url"] + "/v1/admin/sandbox/world", headers=h(ADMIN), timeout=60).text))
    assert observe.router_status(world, world.broadband_of(scenario.customer_id)[0].id).stable
    shot(page, "chat")
    # A reload of the tab brings the same conversation back from its transcript.
    page.reload()
    page.wait_for_selector("#messages[data-conversation]")
    assert page.locator("#messages li.msg.customer .text").first.inner_text() == scenario.message.strip()


# ---- a person takes over: queue, claim, reply seen live by the customer, resolve -------------------------------
def test_handover_claimed_in_the_desk_and_answered_live(app, new_page):
    chat = new_page()
    sign_in(chat, "/chat", C1001)
    chat.get_by_label("Your message").fill("I want to speak to a real person please")
    chat.get_by_role("button", name="Send").click()
    assert last_agent_turn(chat).get_attribute("data-status") == "handed_off"
    notice = chat.locator("#takeover")
    notice.wait_for(state="visible")
    assert "person" in notice.inner_text()
    # Customer-written markup while waiting: shown as text in the chat, never run.
    chat.get_by_label("Your message").fill(MARKUP)
    chat.get_by_role("button", name="Send").click()
    last_agent_turn(chat)
    assert chat.locator("#messages li.msg.customer .text").last.inner_text() == MARKUP
    assert chat.evaluate("window.__pwned") is None
    assert chat.locator("#messages img, #messages script").count() == 0

    desk = new_page()
    sign_in(desk, "/desk", OPS)
    desk.get_by_label("Your name").fill("Dana")
    row = desk.locator("#queue tbody tr", has_text="C1001").first
    row.wait_for()
    assert "asked to speak to a person" in row.inner_text()
    row.get_by_role("button").click()
    desk.locator("#detail-status", has_text="Waiting").wait_for()
    desk.get_by_role("button", name="Claim").click()
    desk.locator("#detail-status", has_text="Claimed by Dana").wait_for()
    # The whole context on one screen: why, the transcript with the customer's markup as text.
    assert "asked to speak to a person" in desk.locator("#facts").inner_text()
    desk.locator("#account", has_text="Broadband").wait_for()  # the account beside it: name, lines, broadband
    desk.locator("#transcript li.msg.customer .text", has_text="is this safe?").wait_for()
    assert desk.locator("#transcript li.msg.customer .text").last.inner_text() == MARKUP
    assert desk.evaluate("window.__pwned") is None and desk.locator("#transcript img").count() == 0

    desk.get_by_label("Reply to the customer").fill("Hi, this is Dana. I can see your line; let me help you.")
    desk.get_by_role("button", name="Send reply").click()
    person = chat.locator("#messages li.msg.person")
    person.wait_for(timeout=15_000)  # the customer's chat shows it live, labelled as a person
    assert "Dana" in person.inner_text() and "a person" in person.locator(".who").inner_text()
    assert "offline" not in person.locator(".who").inner_text()
    desk.locator("#transcript li.msg.person").wait_for()
    shot(desk, "desk")
    shot(chat, "chat-handover")

    desk.get_by_label("Note (kept with the case)").fill("Explained the options; customer happy.")
    desk.get_by_role("button", name="Resolve").click()
    desk.locator("#detail-status", has_text="Closed").wait_for()
    chat.locator("#takeover", has_text="resolved").wait_for(timeout=15_000)


def test_two_concurrent_claims_one_wins_one_is_refused(app):
    with httpx.Client(base_url=app["url"], timeout=60) as http:
        cid = http.post("/v1/conversations", headers=h(C1001), json={}).json()["conversation_id"]
        out = http.post(f"/v1/conversations/{cid}/messages", headers=h(C1001),
                        json={"text": "I'd rather talk to a person"}).json()
        hid = out["handoff"]["handoff_id"]

        def claim(person: str) -> httpx.Response:
            return http.post(f"/v1/handoffs/{hid}/claim", headers=h(OPS), json={"person": person})

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(claim, ["ana", "ben"]))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    refused = next(r for r in results if r.status_code == 409).json()
    assert "already claimed by" in refused["message"]


# ---- a customer key cannot open the operator screens -------------------------------------------------------------
@pytest.mark.parametrize("screen", ["desk", "ops"])
def test_a_customer_key_gets_a_403_page(app, new_page, screen):
    page = new_page()
    sign_in(page, f"/{screen}", C1001)
    page.wait_for_url(re.compile(f"/forbidden/{screen}"))
    assert "403" in page.title() and "customer" in page.locator("main").inner_text()
    if screen == "desk":
        shot(page, "forbidden")
    # The same refusal from the server when the page request itself carries the key (a proxy, a script).
    r = httpx.get(app["url"] + f"/{screen}", headers=h(C1001), timeout=30)
    assert r.status_code == 403 and "403" in r.text


# ---- /ops: the turns just made and an alert raised by a planted fault -------------------------------------------
def test_ops_shows_the_turns_and_an_alert_from_a_planted_fault(app, new_page):
    # A new world starts the monitor afresh: the burst below is judged alone, not averaged with (or held back as a
    # repeat of) the alerts of the modules that ran before on the shared app.
    admin(app, "/v1/admin/sandbox/world", {"fixture": "demo"})
    started = datetime.now(timezone.utc)
    page = new_page()
    sign_in(page, "/ops", OPS)
    page.locator(".tile[data-metric='turns'] dd").wait_for()
    # The fault: the operator's network system goes down, so turns come back degraded and the error rate jumps.
    burst = MonitorConfig.load().min_samples  # the fewest turns the monitor judges
    admin(app, "/v1/admin/sandbox/chaos", {"unavailable": ["oss"]})
    try:
        with httpx.Client(base_url=app["url"], timeout=60) as http:
            for _ in range(burst):
                cid = http.post("/v1/conversations", headers=h(C1001), json={}).json()["conversation_id"]
                r = http.post(f"/v1/conversations/{cid}/messages", headers=h(C1001),
                              json={"text": "My internet keeps dropping"})
                assert r.status_code == 200 and r.json()["mode"] == "degraded", r.text
    finally:
        admin(app, "/v1/admin/sandbox/chaos", {})
    alert = new_alert(app, "error_rate", started)
    # The burst's own alert, told apart from older error_rate rows by the time the page shows for it.
    when = page.evaluate("at => new Date(at).toLocaleTimeString()", alert["at"])
    page.locator("#alerts tbody tr", has_text=when).filter(has_text="error_rate").first.wait_for(timeout=15_000)
    tile_at_least(page, "turns", burst)
    shot(page, "ops")


# ---- a choice question: buttons in plain words; a click answers it --------------------------------------------
def test_a_choice_question_is_answered_with_a_button(app, new_page):
    page = new_page()
    sign_in(page, "/chat", C1001)
    page.get_by_label("Your message").fill("something is wrong")
    page.get_by_role("button", name="Send").click()
    last_agent_turn(page)
    buttons = page.locator("#choices button")
    buttons.first.wait_for()
    label = buttons.first.inner_text()
    assert "_" not in label  # the words the reply uses, not an intent id
    before = page.locator("#messages li.msg.agent").count()
    buttons.first.click()
    sync_api.expect(page.locator("#messages li.msg.agent")).to_have_count(before + 1, timeout=TURN_TIMEOUT_MS)
    last_agent_turn(page)
    assert page.locator("#messages li.msg.customer .text").last.inner_text() == label
    assert page.locator("#choices").is_hidden()  # the question is answered: no choice asked again

// The customer's chat: opens a conversation, streams each reply as it arrives (server-sent events over fetch, so
// the key travels in a header), shows customer steps with a Done button, choices as buttons, citations as links,
// and — once a person has taken over — polls the transcript so the person's replies appear live.
"use strict";

(() => {
  const { api, json, el, clear, signIn } = Telco;
  const meta = document.querySelector('meta[name="telco-demo-admin-key"]');
  const demoAdminKey = meta ? meta.content : null;  // demo only: performs a step on the simulated device
  const messages = document.getElementById("messages");
  const composer = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const stepsBox = document.getElementById("steps");
  const stepList = document.getElementById("step-list");
  const choices = document.getElementById("choices");
  const takeover = document.getElementById("takeover");
  const errorBox = document.getElementById("chat-error");
  const CONVERSATION = "telco.chat.conversation";
  const state = { conversationId: null, customerId: null, seen: new Set(), polling: null, busy: false,
                  pending: [], results: [] };

  function bubble(kind, label, text) {
    const body = el("p", { class: "text" }, text || "");
    const item = el("li", { class: "msg " + kind }, el("span", { class: "who" }, label), body);
    messages.append(item);
    item.scrollIntoView({ block: "end" });
    return { item, body };
  }

  function agentLabel(mode) { return "Assistant (automated, " + mode + ")"; }

  function setBusy(busy) {
    state.busy = busy;
    sendButton.disabled = busy;
    input.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // A reload of the tab picks the conversation up again from its transcript; otherwise a new one starts.
  async function resume(id) {
    let conv;
    try { conv = await json("GET", "/v1/conversations/" + encodeURIComponent(id)); } catch (e) { return false; }
    state.conversationId = conv.conversation_id;
    state.customerId = conv.customer_id;
    for (const t of conv.turns) {
      state.seen.add(t.turn_id);
      if (t.customer) bubble("customer", "You", t.customer);
      if (isPerson(t)) bubble("person", (t.trace.agents[0].note || "Our team") + " (a person)", t.reply);
      else bubble("agent", agentLabel(t.mode), t.reply);
    }
    if (conv.status === "handed_off") showTakeover(null);
    return true;
  }

  async function start() {
    setBusy(true);  // nothing can be sent before the conversation exists
    const saved = sessionStorage.getItem(CONVERSATION);
    if (!(saved && await resume(saved))) {
      const created = await json("POST", "/v1/conversations", { channel: "chat" });
      state.conversationId = created.conversation_id;
      state.customerId = created.customer_id;
      sessionStorage.setItem(CONVERSATION, state.conversationId);
      bubble("agent", "Assistant", "Hello! Tell me what is going on and I will look into it.");
    }
    messages.dataset.conversation = state.conversationId;
    setBusy(false);
    input.focus();
  }

  // Read a server-sent event stream from a fetch body: `delta` events grow the reply, `done` carries the TurnOut.
  async function streamTurn(body, target) {
    const r = await api("POST", "/v1/conversations/" + state.conversationId + "/messages", body,
                        { "Accept": "text/event-stream" });
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", done = null, shown = "";
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        const payload = data ? JSON.parse(data) : null;
        if (name === "meta") target.item.querySelector(".who").textContent = agentLabel(payload.mode);
        else if (name === "delta") { shown += payload.text; target.body.textContent = shown; }
        else if (name === "done") done = payload;
        else if (name === "error") throw new Error(payload.message);
      }
    }
    if (!done) throw new Error("the reply stopped before it was complete");
    target.body.textContent = done.reply;  // done.reply is always the reply (a degraded turn may replace deltas)
    return done;
  }

  async function send(text, stepResults, shown) {
    if (state.busy) return;
    setBusy(true);
    errorBox.textContent = "";
    hideSteps();
    clear(choices); choices.hidden = true;
    bubble("customer", "You", shown || text);
    const target = bubble("agent", "Assistant", "…");
    target.item.setAttribute("aria-busy", "true");
    messages.setAttribute("aria-busy", "true");  // a screen reader reads the reply once, whole, not piece by piece
    try {
      const turn = await streamTurn({ text, step_results: stepResults || [] }, target);
      state.seen.add(turn.turn_id);
      render(turn, target);
    } catch (e) {
      target.item.remove();
      errorBox.textContent = "Sorry, that did not go through: " + e.message;
    } finally {
      target.item.removeAttribute("aria-busy");
      messages.removeAttribute("aria-busy");
      setBusy(false);
    }
  }

  function render(turn, target) {
    target.item.querySelector(".who").textContent = agentLabel(turn.mode);
    target.item.dataset.status = turn.status;  // what the turn left the conversation in (tests and styles read it)
    const extra = [];
    for (const a of turn.actions_taken || []) extra.push(el("li", { class: "action" }, "Done for you: " + a.summary));
    for (const c of turn.citations || []) {
      const [doc, slug] = c.section_id.split("#");
      const href = "/kb/" + encodeURIComponent(doc) + (slug ? "#" + encodeURIComponent(slug) : "");
      extra.push(el("li", { class: "citation" }, "Source: ",
                    el("a", { href, target: "_blank", rel: "noopener" }, c.title + " — " + c.heading)));
    }
    if (extra.length) target.item.append(el("ul", { class: "extras" }, ...extra));
    if (turn.status === "resolved") target.item.append(el("p", { class: "status ok" }, "Marked as resolved."));
    showSteps(turn.customer_steps || []);
    showChoices(turn.question);
    if (turn.handoff || turn.status === "handed_off") showTakeover(turn.handoff);
  }

  // ---- customer steps: numbered instructions, each answered with Done or "I couldn't" -------------------------
  function hideSteps() { stepsBox.hidden = true; clear(stepList); }

  function showSteps(steps) {
    state.pending = steps;
    state.results = [];
    state.answered = [];
    clear(stepList);
    if (!steps.length) { stepsBox.hidden = true; return; }
    steps.forEach((step, i) => {
      const done = el("button", { type: "button", class: "done" }, "Done");
      const cant = el("button", { type: "button", class: "secondary" }, "I couldn't");
      const status = el("span", { class: "step-status", role: "status" });
      done.setAttribute("aria-label", "Done: step " + (i + 1));
      cant.setAttribute("aria-label", "Could not do step " + (i + 1));
      const li = el("li", { class: "step" }, el("span", { class: "instruction" }, step.instruction),
                    el("span", { class: "buttons" }, done, cant), status);
      done.addEventListener("click", () => answerStep(step, true, li, status));
      cant.addEventListener("click", () => answerStep(step, false, li, status));
      stepList.append(li);
    });
    stepsBox.hidden = false;
    stepList.querySelector("button").focus();
  }

  async function answerStep(step, done, li, status) {
    for (const b of li.querySelectorAll("button")) b.disabled = true;
    let observation = {};
    if (done && demoAdminKey && state.customerId) {
      status.textContent = "Doing it…";
      try {
        const r = await api("POST", "/v1/admin/sandbox/customer-steps",
                            { step_id: step.step_id, customer_id: state.customerId }, {}, demoAdminKey);
        observation = await r.json();
      } catch (e) {
        observation = { reported: "done" };  // the device could not be reached: the customer's word stands
      }
    } else if (done) {
      observation = { reported: "done" };
    }
    status.textContent = done ? "Done" : "Not done";
    li.classList.add(done ? "is-done" : "is-skipped");
    state.results.push({ step_id: step.step_id, observation, done });
    state.answered = (state.answered || []).concat((done ? "Done: " : "Couldn't: ") + step.instruction);
    if (state.results.length === state.pending.length) {
      const results = state.results, shown = state.answered.join("\n");
      state.pending = [];
      state.answered = [];
      await send(results.every(r => r.done) ? "Done" : "I couldn't do all of it", results, shown);
      input.focus();
    }
  }

  // ---- a choice question: one button per option ---------------------------------------------------------------
  function showChoices(question) {
    clear(choices);
    if (!question || question.kind !== "choice" || !(question.options || []).length) { choices.hidden = true; return; }
    for (const option of question.options) {
      const known = document.querySelector('#intent-labels li[data-intent="' + CSS.escape(option) + '"]');
      const label = known ? known.textContent : option.replace(/_/g, " ");
      const b = el("button", { type: "button", class: "choice" }, label);
      b.addEventListener("click", () => send(label));
      choices.append(b);
    }
    choices.hidden = false;
    choices.querySelector("button").focus();
  }

  // ---- a person took over: say so plainly, then show their replies as they are written -------------------------
  function showTakeover(handoff) {
    takeover.hidden = false;
    takeover.className = "notice person";
    takeover.textContent = "A person from our team is taking over this conversation" +
      (handoff && handoff.queue ? " (" + handoff.queue.replace(/_/g, " ") + ")" : "") +
      ". Their replies will appear here; you can keep writing.";
    if (!state.polling) state.polling = setInterval(poll, 1500);
  }

  function isPerson(turn) {
    const agents = (turn.trace && turn.trace.agents) || [];
    return agents.length > 0 && agents[0].agent === "person";
  }

  async function poll() {
    let conv;
    try { conv = await json("GET", "/v1/conversations/" + state.conversationId); } catch (e) { return; }
    for (const t of conv.turns) {
      if (state.seen.has(t.turn_id)) continue;
      state.seen.add(t.turn_id);
      if (isPerson(t)) bubble("person", (t.trace.agents[0].note || "Our team") + " (a person)", t.reply);
    }
    if (conv.status !== "handed_off") {
      clearInterval(state.polling);
      state.polling = null;
      takeover.className = "notice";
      takeover.textContent = conv.status === "resolved"
        ? "Our colleague has closed this conversation as resolved. Write again any time."
        : "Our colleague has handed you back to the assistant.";
    }
  }

  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    const results = state.pending.length ? state.results : [];
    send(text, results);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); composer.requestSubmit(); }
  });

  document.getElementById("new-conversation").addEventListener("click", () => {
    sessionStorage.removeItem(CONVERSATION);
    location.reload();
  });

  signIn(() => start().catch((e) => { errorBox.textContent = "Could not start the chat: " + e.message; }));
})();

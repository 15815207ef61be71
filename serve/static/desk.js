// The agent desk: the queue of hand-offs, one hand-off's whole context, claim, reply as a person, resolve or
// hand back. The queue and the open conversation refresh by polling, so what the customer writes shows up.
"use strict";

(() => {
  const { json, el, clear, ago, signIn } = Telco;
  const tbody = document.querySelector("#queue tbody");
  const empty = document.getElementById("queue-empty");
  const detail = document.getElementById("detail");
  const person = document.getElementById("person");
  const errorBox = document.getElementById("desk-error");
  const statusBox = document.getElementById("detail-status");
  let current = null;  // the open hand-off's id
  let shownTurns = "";

  person.value = sessionStorage.getItem("telco.desk.person") || "";
  person.addEventListener("change", () => sessionStorage.setItem("telco.desk.person", person.value.trim()));
  function who() { return person.value.trim() || null; }

  function fail(e) {
    // A refused claim (409) or a stale hand-off is told plainly; the rest of the screen stays usable.
    errorBox.textContent = e.status === 409 ? "Refused: " + e.message : "Error: " + e.message;
  }

  async function loadQueue() {
    let items;
    try {
      const [queued, claimed] = await Promise.all([json("GET", "/v1/handoffs?status=queued"),
                                                   json("GET", "/v1/handoffs?status=claimed")]);
      items = queued.concat(claimed).sort((a, b) => new Date(a.created_at) - new Date(b.created_at));
    } catch (e) { fail(e); return; }
    clear(tbody);
    empty.hidden = items.length > 0;
    for (const h of items) {
      const open = el("button", { type: "button", class: "link" }, h.customer_id || "unknown customer");
      open.setAttribute("aria-label", "Open the hand-off of " + (h.customer_id || "an unknown customer"));
      open.addEventListener("click", () => openHandoff(h.handoff_id));
      const row = el("tr", { class: h.handoff_id === current ? "selected" : null, "data-handoff": h.handoff_id },
        el("td", {}, ago(h.created_at)), el("td", {}, h.queue.replace(/_/g, " ")), el("td", {}, open),
        el("td", {}, h.reason), el("td", {}, h.status + (h.claimed_by ? " by " + h.claimed_by : "")));
      tbody.append(row);
    }
  }

  function fact(dl, term, value) {
    if (value === null || value === undefined || value === "") return;
    dl.append(el("dt", {}, term), el("dd", {}, String(value)));
  }

  // key: value pairs of the plain values; nested records (a tool's whole context) would drown the screen.
  function describe(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "object") return String(value);
    const short = (v) => { const t = String(v); return t.length > 80 ? t.slice(0, 77) + "…" : t; };
    return Object.entries(value).filter(([, v]) => v !== null && typeof v !== "object")
      .map(([k, v]) => k + ": " + short(v)).join(", ");
  }

  // The account beside the hand-off: who the customer is and what they have, read once per hand-off opened.
  async function showAccount(customerId) {
    const dl = document.getElementById("account");
    clear(dl);
    if (!customerId) { fact(dl, "Customer", "not identified"); return; }
    let c;
    try { c = await json("GET", "/v1/ops/customers/" + encodeURIComponent(customerId)); } catch (e) {
      fact(dl, "Account", "could not be read: " + e.message);
      return;
    }
    fact(dl, "Name", c.name);
    fact(dl, "Account", c.status + " · " + c.segment);
    fact(dl, "Contact", c.phone + " · " + c.email);
    for (const l of c.lines) fact(dl, "Mobile line", l.number + " · " + l.plan_id + " · " + l.status);
    for (const b of c.broadband) fact(dl, "Broadband", b.service_id + " · " + b.plan_id + " · " + b.technology + " · " + b.status + " · area " + b.area_id);
  }

  async function openHandoff(id) {
    current = id;
    shownTurns = "";
    errorBox.textContent = "";
    detail.hidden = false;
    await refresh();
    const h = await json("GET", "/v1/handoffs/" + encodeURIComponent(id)).catch(() => null);
    if (h) await showAccount(h.customer_id);
    document.getElementById("detail-title").focus();
  }

  async function refresh() {
    if (!current) return;
    let h;
    try { h = await json("GET", "/v1/handoffs/" + encodeURIComponent(current)); } catch (e) { fail(e); return; }
    const ctx = h.context || {};
    const conv = h.conversation;
    document.getElementById("detail-title").textContent = "Customer " + (h.customer_id || "unknown") + " — " + h.queue.replace(/_/g, " ");
    document.getElementById("detail-title").setAttribute("tabindex", "-1");
    statusBox.textContent = h.status === "queued" ? "Waiting for a person (" + ago(h.created_at) + ")."
      : h.status === "claimed" ? "Claimed by " + h.claimed_by + "." : "Closed (" + (h.outcome || h.status) + ").";
    const mine = h.status === "claimed" && h.claimed_by === (who() || h.claimed_by);
    document.getElementById("claim").hidden = h.status !== "queued";
    document.getElementById("reply-form").hidden = !mine;
    document.getElementById("close-form").hidden = !mine;

    const facts = document.getElementById("facts");
    clear(facts);
    fact(facts, "Why handed over", h.reason);
    fact(facts, "Summary", h.summary);
    fact(facts, "Customer", h.customer_id);
    fact(facts, "Conversation", h.conversation_id);
    fact(facts, "Channel", conv && conv.channel);
    fact(facts, "Intents", (ctx.intents_this_turn || []).map(i => i.intent + " (" + Math.round((i.confidence || 0) * 100) + "%)").join(", "));
    const signals = Object.entries(ctx.signals || {}).filter(([, v]) => v && (v === true || (Array.isArray(v) && v.length)));
    fact(facts, "Signals", signals.map(([k, v]) => v === true ? k : k + ": " + v).join(", "));
    if (ctx.error) fact(facts, "Error", ctx.error.agent + ": " + ctx.error.type + " — " + ctx.error.message);

    const issues = document.getElementById("issues");
    clear(issues);
    for (const issue of ctx.issues || []) {
      const steps = el("ol", {});
      for (const s of issue.steps || []) {
        const bits = [s.step || s.name || s.id || "step", s.kind, s.result || s.outcome].filter(Boolean).join(" · ");
        const obs = s.observation || s.observations || s.facts;
        steps.append(el("li", {}, bits, obs ? el("span", { class: "muted" }, " — saw: " + describe(obs)) : null));
      }
      issues.append(el("li", {}, el("strong", {}, issue.intent), " (" + issue.status + ")", steps));
    }
    if (!(ctx.issues || []).length) issues.append(el("li", { class: "muted" }, "No troubleshooting ran."));

    const tools = document.getElementById("tools");
    clear(tools);
    const turns = (conv && conv.turns) || [];
    for (const t of turns) {
      for (const tool of t.trace.tools || []) {
        tools.append(el("li", {}, tool.name + " (" + tool.kind + ", " + (tool.ok ? "ok" : "failed") + ")",
                        Object.keys(tool.args || {}).length ? el("span", { class: "muted" }, " " + describe(tool.args)) : null));
      }
      for (const m of t.trace.memory_hits || []) {
        if (m.source !== "semantic") continue;
        const [doc, slug] = m.ref.split("#");
        tools.append(el("li", {}, "Knowledge: ", el("a", { href: "/kb/" + encodeURIComponent(doc) + (slug ? "#" + encodeURIComponent(slug) : ""),
                                                           target: "_blank", rel: "noopener" }, m.ref)));
      }
    }
    if (!tools.childNodes.length) tools.append(el("li", { class: "muted" }, "None."));

    const signature = turns.map(t => t.turn_id).join(",");
    if (signature !== shownTurns) {
      shownTurns = signature;
      const list = document.getElementById("transcript");
      clear(list);
      for (const t of turns) {
        if (t.customer) list.append(el("li", { class: "msg customer" }, el("span", { class: "who" }, "Customer"), el("p", { class: "text" }, t.customer)));
        const agents = t.trace.agents || [];
        const isPerson = agents.length && agents[0].agent === "person";
        const label = isPerson ? (agents[0].note || "a person") + " (a person)" : "Assistant (automated, " + t.mode + ")" +
          (t.trace.playbook ? " · " + t.trace.playbook + (t.trace.playbook_step ? "/" + t.trace.playbook_step : "") : "");
        list.append(el("li", { class: "msg " + (isPerson ? "person" : "agent") }, el("span", { class: "who" }, label),
                       el("p", { class: "text" }, t.reply)));
      }
    }
  }

  document.getElementById("claim").addEventListener("click", async () => {
    errorBox.textContent = "";
    try {
      await json("POST", "/v1/handoffs/" + encodeURIComponent(current) + "/claim", who() ? { person: who() } : {});
      await refresh();
      await loadQueue();
      document.getElementById("reply").focus();
    } catch (e) { fail(e); }
  });

  document.getElementById("reply-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = document.getElementById("reply");
    const text = box.value.trim();
    if (!text) return;
    const q = who() ? "?person=" + encodeURIComponent(who()) : "";
    try {
      await json("POST", "/v1/handoffs/" + encodeURIComponent(current) + "/reply" + q, { text });
      box.value = "";
      await refresh();
    } catch (e) { fail(e); }
  });

  document.getElementById("close-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const outcome = ev.submitter && ev.submitter.value === "unresolved" ? "unresolved" : "resolved";
    const note = document.getElementById("note").value.trim() || null;
    const q = who() ? "?person=" + encodeURIComponent(who()) : "";
    try {
      await json("POST", "/v1/handoffs/" + encodeURIComponent(current) + "/resolve" + q, { outcome, note });
      await refresh();
      await loadQueue();
    } catch (e) { fail(e); }
  });

  signIn(() => {
    loadQueue();
    setInterval(loadQueue, 3000);
    setInterval(refresh, 2000);
  });
})();

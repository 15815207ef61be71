// The operations console: the window's metrics, alerts with their thresholds, open incidents, running A/B
// experiments; refreshed every few seconds.
"use strict";

(() => {
  const { json, el, clear, signIn } = Telco;
  const pct = (v) => v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%";
  const ms = (v) => v === null || v === undefined ? "—" : Math.round(v) + " ms";

  function tile(dl, id, label, value) {
    dl.append(el("div", { class: "tile", "data-metric": id }, el("dt", {}, label), el("dd", {}, value)));
  }

  function fillTable(id, rows, cells) {
    const body = document.querySelector("#" + id + " tbody");
    clear(body);
    document.getElementById(id + "-empty").hidden = rows.length > 0;
    for (const r of rows) body.append(el("tr", {}, ...cells(r).map(c => el("td", {}, c === null || c === undefined ? "" : String(c)))));
  }

  async function refresh() {
    try {
      const [m, alerts, incidents] = await Promise.all([
        json("GET", "/v1/ops/metrics?window_s=300"), json("GET", "/v1/ops/alerts?limit=20"),
        json("GET", "/v1/ops/incidents?status=open")]);
      const dl = document.getElementById("metrics");
      clear(dl);
      tile(dl, "turns", "Turns", m.turns);
      tile(dl, "turns_per_s", "Turns/s", m.turns_per_s.toFixed(3));
      tile(dl, "latency_p50", "Latency p50", ms(m.latency_p50_ms));
      tile(dl, "latency_p95", "Latency p95", ms(m.latency_p95_ms));
      tile(dl, "error_rate", "Error rate", pct(m.error_rate));
      tile(dl, "degraded_rate", "Degraded", pct(m.degraded_rate));
      tile(dl, "tokens", "LLM tokens", m.tokens);
      tile(dl, "cost", "LLM cost", "$" + m.cost_usd.toFixed(4));
      tile(dl, "modes", "Modes", Object.entries(m.mode_shares).map(([k, v]) => k + " " + pct(v)).join(", ") || "—");
      tile(dl, "resolution_rate", "Resolved", pct(m.resolution_rate));
      tile(dl, "handover_rate", "Handed over", pct(m.handover_rate));
      tile(dl, "conversations", "Conversations", m.conversations);
      tile(dl, "person_replies", "Replies by people", m.person_replies);
      fillTable("alerts", alerts, a => [new Date(a.at).toLocaleTimeString(), a.severity, a.agent, a.metric,
        Number(a.value).toFixed(3), Number(a.threshold).toFixed(3), Math.round(a.window_s) + " s"]);
      document.querySelectorAll("#alerts tbody tr").forEach((tr, i) => tr.classList.add("sev-" + alerts[i].severity));
      fillTable("incidents", incidents, i => [new Date(i.opened_at).toLocaleTimeString(), i.area_id, i.service || "",
        i.cause || "", i.customers.length + " (" + i.customers.slice(0, 5).join(", ") + (i.customers.length > 5 ? ", …" : "") + ")"]);
      fillTable("experiments", m.experiments, e => {
        const d = e.last_decision;
        const rates = d ? "v" + e.control_version + " " + pct(d.control_rate) + " of " + d.n_control + " · v" +
          e.candidate_version + " " + pct(d.candidate_rate) + " of " + d.n_candidate : "not decided yet";
        const verdict = d ? (d.promote ? "promote" : "keep") + ": " + d.reason : "—";
        return [e.playbook, "v" + e.control_version, "v" + e.candidate_version, pct(e.share),
                e.started_at ? new Date(e.started_at).toLocaleString() : "", rates, verdict];
      });
      document.getElementById("updated").textContent = new Date().toLocaleTimeString();
    } catch (e) {
      document.getElementById("updated").textContent = "failed: " + e.message;
    }
  }

  signIn(() => { refresh(); setInterval(refresh, 3000); });
})();

// Shared by the screens: the key kept in this tab's sessionStorage, API calls with it, small DOM helpers.
// Data from the API is only ever put on the page with textContent (el() below), never parsed as HTML.
"use strict";

const Telco = (() => {
  const screen = document.body.dataset.screen;
  const roles = (document.body.dataset.roles || "").split(" ");
  // The chat holds a customer's key, the desk and the console an operator's: two slots, so one tab can use both.
  const slot = "telco.key." + (screen === "chat" ? "chat" : "ops");

  function key() { return sessionStorage.getItem(slot); }
  function forget() {
    sessionStorage.removeItem(slot);
    if (screen === "chat") sessionStorage.removeItem("telco.chat.conversation");  // it belonged to that key
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || ("HTTP " + status));
      this.status = status;
      this.code = body && body.code;
    }
  }

  async function api(method, path, body, extraHeaders, useKey) {
    const headers = Object.assign({ "Authorization": "Bearer " + (useKey || key()) }, extraHeaders || {});
    const init = { method, headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    if (!r.ok) {
      let payload = null;
      try { payload = await r.json(); } catch (e) { /* not JSON */ }
      throw new ApiError(r.status, payload);
    }
    return r;
  }

  async function json(method, path, body) { return (await api(method, path, body)).json(); }

  // el("li", {class: "x"}, "text", child...) — strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function ago(iso) {
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    // A clock that is not this one (the sandbox keeps its own date): show when, not a meaningless "ago".
    if (s < 0 || s > 86400) return "since " + new Date(iso).toLocaleString();
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  // Ask who the key is; a key that may not open this screen goes to the server's 403 page.
  async function signIn(onReady) {
    const form = document.getElementById("key-form");
    const app = document.getElementById("app");
    const who = document.getElementById("who");
    const out = document.getElementById("sign-out");
    async function start() {
      let session;
      try {
        session = await json("GET", "/v1/session");
      } catch (e) {
        forget();
        document.getElementById("key-error").textContent =
          e.status === 401 ? "That key is not recognised." : "Could not check the key: " + e.message;
        form.hidden = false;
        return;
      }
      if (!roles.includes(session.role)) {
        location.replace("/forbidden/" + screen + "?role=" + encodeURIComponent(session.role));
        return;
      }
      form.hidden = true;
      app.hidden = false;
      who.textContent = session.customer_id ? "Customer " + session.customer_id : "Signed in as " + session.key_id;
      out.hidden = false;
      onReady(session);
    }
    out.addEventListener("click", () => { forget(); location.reload(); });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = document.getElementById("key-input");
      sessionStorage.setItem(slot, input.value.trim());
      input.value = "";
      start();
    });
    if (key()) { form.hidden = true; start(); } else { document.getElementById("key-input").focus(); }
  }

  return { api, json, el, clear, ago, signIn, forget, key, ApiError };
})();

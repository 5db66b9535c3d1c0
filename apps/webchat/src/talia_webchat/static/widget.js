/* TalIA web chat widget: one <script> tag, a launcher and a chat panel in a Shadow DOM.
 *   <script src="https://talia.example.com/api/webchat/widget.js" data-title="Ayuda"
 *           data-lang="es" data-color="#0b5fff" data-text-color="#ffffff" defer></script>
 * Replies stream over a WebSocket; the session survives reloads (localStorage) and network
 * drops (reconnects and resumes from the last message it has). Text is never parsed as HTML.
 */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const data = script.dataset;
  const api = (data.apiBase || new URL(script.src).origin).replace(/\/$/, "");
  const lang = data.lang === "en" ? "en" : "es";
  const STRINGS = {
    es: {
      open: "Abrir chat", close: "Cerrar chat", input: "Mensaje", placeholder: "Escribe tu mensaje…",
      send: "Enviar", typing: "Escribiendo…", offline: "Sin conexión. Reintentando…",
      failed: "No se pudo enviar. Inténtalo de nuevo.", wait: "Demasiados mensajes. Espera un momento.",
    },
    en: {
      open: "Open chat", close: "Close chat", input: "Message", placeholder: "Type your message…",
      send: "Send", typing: "Typing…", offline: "Offline. Reconnecting…",
      failed: "Could not send. Please try again.", wait: "Too many messages. Please wait a moment.",
    },
  };
  const t = STRINGS[lang];
  const title = data.title || "Chat";
  const storeKey = "talia-webchat:" + api;

  const load = () => { try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch { return {}; } };
  const saved = load();
  const state = {
    token: saved.token || null,
    expiresAt: saved.expiresAt || null,
    lastId: null,            // newest message shown on this page
    pending: saved.pending || {},  // client_message_id -> text, until acknowledged
    seen: new Set(),
    socket: null,
    retries: 0,
    draft: null,
  };
  const persist = () => localStorage.setItem(storeKey, JSON.stringify({
    token: state.token, expiresAt: state.expiresAt, pending: state.pending,
  }));

  const host = document.createElement("div");
  host.setAttribute("data-talia-webchat", "");
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
<style>
  :host { all: initial; }
  * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  .launcher { position: fixed; right: 16px; bottom: 16px; width: 56px; height: 56px; border-radius: 50%;
    border: none; background: var(--talia-color); color: var(--talia-text); cursor: pointer;
    display: flex; align-items: center; justify-content: center;
    box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483646; }
  .launcher:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid #222; outline-offset: 2px; }
  .panel { position: fixed; right: 16px; bottom: 84px; width: min(380px, calc(100vw - 16px));
    height: min(560px, calc(100vh - 100px)); display: flex; flex-direction: column; background: #fff;
    color: #1a1a1a; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.3); overflow: hidden;
    z-index: 2147483647; }
  .panel[hidden] { display: none; }
  @media (max-width: 480px) { .panel { right: 8px; left: 8px; width: auto; bottom: 80px; } }
  header { display: flex; align-items: center; justify-content: space-between; padding: 12px 16px;
    background: var(--talia-color); color: var(--talia-text); }
  h2 { margin: 0; font-size: 16px; font-weight: 600; }
  header button { background: transparent; border: none; color: inherit; font-size: 20px; cursor: pointer;
    min-width: 32px; min-height: 32px; }
  .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; }
  .msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word;
    line-height: 1.4; font-size: 14px; }
  .user { align-self: flex-end; background: var(--talia-color); color: var(--talia-text); }
  .assistant, .staff { align-self: flex-start; background: #eef0f3; }
  .notice { align-self: center; font-size: 13px; color: #333; text-align: center; }
  .status { padding: 4px 12px; font-size: 12px; color: #333; min-height: 20px; }
  form { display: flex; gap: 8px; padding: 8px; border-top: 1px solid #ddd; }
  textarea { flex: 1; resize: none; border: 1px solid #767676; border-radius: 8px; padding: 8px; font-size: 14px;
    min-height: 40px; max-height: 120px; }
  .send { border: none; border-radius: 8px; padding: 0 14px; background: var(--talia-color); color: var(--talia-text);
    font-size: 14px; cursor: pointer; min-height: 40px; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
</style>
<button class="launcher" type="button" aria-expanded="false" aria-controls="talia-panel">
  <svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path fill="currentColor" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/>
  </svg>
</button>
<section class="panel" id="talia-panel" role="dialog" aria-modal="false" hidden>
  <header><h2></h2><button class="close" type="button">×</button></header>
  <div class="log" role="log" aria-live="polite" aria-relevant="additions text"></div>
  <div class="status" role="status" aria-live="polite"></div>
  <form novalidate>
    <label class="sr-only" for="talia-input"></label>
    <textarea id="talia-input" rows="1" maxlength="4000"></textarea>
    <button class="send" type="submit"></button>
  </form>
</section>`;
  host.style.setProperty("--talia-color", data.color || "#0b5fff");
  host.style.setProperty("--talia-text", data.textColor || "#ffffff");
  const $ = (selector) => root.querySelector(selector);
  const launcher = $(".launcher"), panel = $(".panel"), log = $(".log"), status = $(".status");
  const form = $("form"), input = $("textarea");
  launcher.setAttribute("aria-label", t.open);
  panel.setAttribute("aria-label", title);
  $("h2").textContent = title;
  $(".close").setAttribute("aria-label", t.close);
  $("label").textContent = t.input;
  input.placeholder = t.placeholder;
  $(".send").textContent = t.send;

  const setOpen = (open) => {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t.close : t.open);
    if (open) { input.focus(); start(); } else { launcher.focus(); }
  };
  launcher.addEventListener("click", () => setOpen(panel.hidden));
  $(".close").addEventListener("click", () => setOpen(false));
  root.addEventListener("keydown", (event) => { if (event.key === "Escape" && !panel.hidden) setOpen(false); });

  const bubble = (role, text) => {
    const element = document.createElement("div");
    element.className = "msg " + (role === "user" ? "user" : role === "notice" ? "notice" : "assistant");
    element.textContent = text;  // never innerHTML: replies are text
    log.appendChild(element);
    log.scrollTop = log.scrollHeight;
    return element;
  };
  const show = (message) => {
    if (!message || state.seen.has(message.id)) return;
    state.seen.add(message.id);
    state.lastId = Math.max(state.lastId || 0, message.id);
    bubble(message.role, message.text);
  };
  const setStatus = (text) => { status.textContent = text || ""; };

  const ensureSession = async () => {
    if (state.token && state.expiresAt && Date.parse(state.expiresAt) > Date.now() + 60000) return;
    const response = await fetch(api + "/api/webchat/sessions", { method: "POST" });
    if (!response.ok) throw new Error("session " + response.status);
    const session = await response.json();
    state.token = session.session_token;
    state.expiresAt = session.expires_at;
    persist();
  };

  const send = (frame) => {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
  };
  const flushPending = () => {
    for (const [id, text] of Object.entries(state.pending)) send({ type: "message", client_message_id: id, text });
  };

  const onFrame = (frame) => {
    switch (frame.type) {
      case "message": show(frame.message); break;
      case "ack":
        delete state.pending[frame.message.client_message_id];
        persist();
        show(frame.message);
        break;
      case "typing": setStatus(t.typing); break;
      case "delta":
        if (!state.draft) state.draft = bubble("assistant", "");
        state.draft.textContent += frame.text;
        log.scrollTop = log.scrollHeight;
        break;
      case "done":
        if (state.draft) { state.draft.remove(); state.draft = null; }
        setStatus("");
        show(frame.message);
        if (frame.handed_off && frame.notice) bubble("notice", frame.notice);
        break;
      case "error": setStatus(frame.code === "rate_limited" ? t.wait : t.failed); break;
      default: break;
    }
  };

  const connect = () => {
    const url = api.replace(/^http/, "ws") + "/api/webchat/ws";
    const socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.retries = 0;
      setStatus("");
      socket.send(JSON.stringify({ type: "auth", token: state.token, last_message_id: state.lastId }));
      flushPending();
    });
    socket.addEventListener("message", (event) => {
      try { onFrame(JSON.parse(event.data)); } catch { /* a malformed frame is ignored */ }
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (state.draft) { state.draft.remove(); state.draft = null; }
      if (event.code === 4401) { state.token = null; persist(); }
      setStatus(t.offline);
      const delay = Math.min(10000, 500 * 2 ** state.retries++);
      setTimeout(() => start(), delay);
    });
  };

  let starting = null;
  const start = () => {
    if (state.socket || starting) return;
    starting = ensureSession().then(connect, () => {
      setStatus(t.offline);
      setTimeout(() => start(), Math.min(10000, 500 * 2 ** state.retries++));
    }).finally(() => { starting = null; });
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9._:-]/g, "");
    state.pending[id] = text;
    persist();
    input.value = "";
    send({ type: "message", client_message_id: id, text });
    start();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  const mount = () => {
    document.body.appendChild(host);
    if (state.token) start();  // a returning visitor sees their history at once
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();

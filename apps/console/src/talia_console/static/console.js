"use strict";
// The staff console: sign in with Supabase Auth, the inbox, one conversation, live.
// Every text from the server is set with textContent: nothing is parsed as HTML.
(() => {
  const TEXTS = {
    es: {
      signInTitle: "Entrar en la consola", email: "Correo", password: "Contraseña",
      signIn: "Entrar", signOut: "Salir", language: "English", badLogin: "Correo o contraseña incorrectos.",
      notStaff: "Tu usuario no es del equipo de este negocio. Pide a un administrador que te añada.",
      list: "Conversaciones", handoff: "Necesita una persona", mine: "Mías", open: "Abiertas",
      closed: "Cerradas", empty: "Elige una conversación.", none: "No hay conversaciones aquí.",
      claim: "Atender", release: "Devolver al asistente", close: "Cerrar", reopen: "Reabrir",
      reply: "Respuesta", send: "Enviar", user: "Cliente", assistant: "Asistente",
      waiting: "espera", windowClosed: "La ventana de 24 h de WhatsApp está cerrada: el cliente debe escribir primero.",
      voice: "Una llamada no admite respuestas escritas.", heldBy: "Atiende", nobody: "sin asignar",
      channels: { whatsapp: "WhatsApp", webchat: "Web", voice: "Teléfono" },
      states: { open: "asistente", handoff: "con el equipo", closed: "cerrada" },
    },
    en: {
      signInTitle: "Sign in to the console", email: "Email", password: "Password",
      signIn: "Sign in", signOut: "Sign out", language: "Español", badLogin: "Wrong email or password.",
      notStaff: "Your user is not on this business's team. Ask an admin to add you.",
      list: "Conversations", handoff: "Needs a human", mine: "Mine", open: "All open",
      closed: "Closed", empty: "Pick a conversation.", none: "No conversations here.",
      claim: "Claim", release: "Give back to assistant", close: "Close", reopen: "Reopen",
      reply: "Reply", send: "Send", user: "Customer", assistant: "Assistant",
      waiting: "waiting", windowClosed: "WhatsApp's 24-hour window is closed: the customer must write first.",
      voice: "A call takes no typed reply.", heldBy: "Held by", nobody: "unassigned",
      channels: { whatsapp: "WhatsApp", webchat: "Web", voice: "Phone" },
      states: { open: "assistant", handoff: "with staff", closed: "closed" },
    },
  };
  const TABS = [
    ["handoff", "state=handoff"], ["mine", "assigned=me"], ["open", "state=open"], ["closed", "state=closed"],
  ];
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  let lang = (localStorage.getItem("talia.lang") || navigator.language || "es").startsWith("en") ? "en" : "es";
  const t = (key) => TEXTS[lang][key];
  let config = null;
  let session = JSON.parse(localStorage.getItem("talia.session") || "null");
  let me = null;
  let tab = "handoff";
  let selected = null;
  let refreshTimer = null;
  let feed = null;

  // --- Session: Supabase Auth's token endpoint, refreshed before it expires ---
  const saveSession = (value) => {
    session = value;
    if (value) localStorage.setItem("talia.session", JSON.stringify(value));
    else localStorage.removeItem("talia.session");
  };
  const grant = async (type, body) => {
    const response = await fetch(`${config.supabase_url}/auth/v1/token?grant_type=${type}`, {
      method: "POST",
      headers: { apikey: config.anon_key, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error("auth");
    const got = await response.json();
    return { access_token: got.access_token, refresh_token: got.refresh_token,
      expires_at: got.expires_at || Math.floor(Date.now() / 1000) + got.expires_in };
  };
  const accessToken = async () => {
    if (session && session.expires_at - 60 < Date.now() / 1000) {
      try { saveSession(await grant("refresh_token", { refresh_token: session.refresh_token })); }
      catch { saveSession(null); }
    }
    if (!session) { showSignIn(); throw new Error("signed out"); }
    return session.access_token;
  };
  const api = async (path, options = {}) => {
    const headers = { authorization: `Bearer ${await accessToken()}`, ...(options.headers || {}) };
    if (options.body) headers["content-type"] = "application/json";
    const response = await fetch(`${config.api}${path}`, { ...options, headers });
    const body = (response.headers.get("content-type") || "").includes("json") ? await response.json() : null;
    if (!response.ok) {
      const error = new Error((body && body.error && body.error.message) || response.statusText);
      error.code = body && body.error && body.error.code;
      throw error;
    }
    return body;
  };

  // --- Views ---
  const labels = () => {
    document.documentElement.lang = lang;
    $("sign-in-title").textContent = t("signInTitle");
    $("email-label").textContent = t("email");
    $("password-label").textContent = t("password");
    $("sign-in-button").textContent = t("signIn");
    $("sign-out").textContent = t("signOut");
    $("language").textContent = t("language");
    $("list-title").textContent = t("list");
    $("conversations").setAttribute("aria-label", t("list"));
  };
  const showSignIn = (message = "") => {
    stopFeed();
    $("inbox-view").hidden = true;
    $("sign-out").hidden = true;
    $("who").textContent = "";
    $("sign-in-view").hidden = false;
    $("sign-in-error").textContent = message;
  };
  const showInbox = () => {
    $("sign-in-view").hidden = true;
    $("inbox-view").hidden = false;
    $("sign-out").hidden = false;
    $("who").textContent = me.name;
    renderTabs();
    loadList();
    if (!selected) renderEmpty();
    startFeed();
  };
  const renderTabs = () => {
    const tabs = $("tabs");
    tabs.replaceChildren(...TABS.map(([key]) => {
      const button = el("button", "", t(key));
      button.type = "button";
      button.setAttribute("role", "tab");
      button.setAttribute("aria-selected", String(key === tab));
      button.addEventListener("click", () => { tab = key; renderTabs(); loadList(); });
      return button;
    }));
  };
  const renderEmpty = () => {
    $("conversation").replaceChildren(el("p", "empty", t("empty")));
  };
  const waited = (seconds) => seconds === null ? "" : `${t("waiting")} ${Math.round(seconds / 60)} min`;

  const loadList = async () => {
    const query = TABS.find(([key]) => key === tab)[1];
    let page;
    try { page = await api(`/conversations?${query}`); } catch { return; }
    const list = $("conversations");
    const rows = page.conversations.map((row) => {
      const item = el("li");
      item.id = `c-${row.id}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(row.id === selected));
      item.tabIndex = -1;
      const top = el("span", "top");
      top.append(el("span", "name", row.contact.name || row.contact.identity),
        el("span", "meta", t("channels")[row.channel] || row.channel));
      if (row.unread) top.append(el("span", "badge", String(row.unread)));
      item.append(top, el("span", "last", row.last_message ? row.last_message.text : ""),
        el("span", "meta", waited(row.waiting_seconds)));
      item.addEventListener("click", () => openConversation(row.id));
      return item;
    });
    list.replaceChildren(...(rows.length ? rows : [el("li", "meta", t("none"))]));
    if (tab === "handoff") document.title = rows.length ? `(${rows.length}) TalIA` : "TalIA";
  };

  const openConversation = async (id, { quiet = false } = {}) => {
    selected = id;
    $("inbox-view").classList.add("open");
    for (const item of $("conversations").children) item.setAttribute("aria-selected", String(item.id === `c-${id}`));
    let detail;
    try { detail = await api(`/conversations/${id}`); } catch { return; }
    const pane = $("conversation");
    const header = el("header");
    const held = detail.assigned_agent;
    const back = el("button", "quiet back", `← ${t("list")}`);
    back.type = "button";
    back.addEventListener("click", () => {
      $("inbox-view").classList.remove("open");
      $("conversations").focus();
    });
    header.append(back, el("h2", "", detail.contact.name || detail.contact.identity),
      el("span", "meta", `${t("channels")[detail.channel]} · ${t("states")[detail.state]} · ${t("heldBy")}: ${held ? held.name : t("nobody")}`));
    const actions = [];
    if (detail.state !== "closed" && (!held || held.id !== me.id)) actions.push("claim");
    if (detail.state === "handoff") actions.push("release");
    actions.push(detail.state === "closed" ? "reopen" : "close");
    for (const action of actions) {
      const button = el("button", action === "claim" ? "" : "quiet", t(action));
      button.type = "button";
      button.addEventListener("click", () => act(id, action));
      header.append(button);
    }
    const messages = el("ol", "messages");
    messages.setAttribute("aria-label", t("list"));
    const lines = [
      ...detail.messages.map((m) => ({ at: m.created_at, m })),
      ...detail.events.map((e) => ({ at: e.created_at, e })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    for (const line of lines) {
      if (line.e) { messages.append(el("li", "event", line.e.type.replaceAll("_", " "))); continue; }
      const item = el("li", line.m.role);
      const who = line.m.role === "agent" ? (line.m.author && line.m.author.name) : t(line.m.role);
      item.append(el("span", "who", who), document.createTextNode(line.m.text || ""));
      messages.append(item);
    }
    pane.replaceChildren(header, messages, replyBox(id, detail));
    messages.scrollTop = messages.scrollHeight;
    if (!quiet) pane.focus();
  };

  const replyBox = (id, detail) => {
    const form = el("form", "reply");
    const label = el("label", "visually-hidden", t("reply"));
    label.htmlFor = "reply-text";
    const text = el("textarea");
    text.id = "reply-text";
    const send = el("button", "", t("send"));
    send.type = "submit";
    let reason = null;
    if (detail.channel === "voice") reason = t("voice");
    else if (detail.whatsapp_window && !detail.whatsapp_window.open) reason = t("windowClosed");
    if (reason) {
      text.disabled = true;
      send.disabled = true;
      const why = el("p", "reason", reason);
      why.id = "reply-reason";
      text.setAttribute("aria-describedby", "reply-reason");
      form.append(label, text, why, send);
    } else {
      form.append(label, text, send);
    }
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      send.disabled = true;
      try {
        await api(`/conversations/${id}/reply`, { method: "POST", body: JSON.stringify({ text: body }),
          headers: { "idempotency-key": crypto.randomUUID() } });
        text.value = "";
        await openConversation(id, { quiet: true });
        $("reply-text").focus();
      } catch { send.disabled = false; }
    });
    return form;
  };

  const act = async (id, action) => {
    try { await api(`/conversations/${id}/${action}`, { method: "POST" }); } catch { /* the view shows what holds */ }
    await openConversation(id, { quiet: true });
    loadList();
  };

  // --- Live: the server-sent events feed, read with fetch (it needs the bearer token) ---
  const refreshSoon = (conversationId) => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      loadList();
      if (selected && conversationId === selected) openConversation(selected, { quiet: true });
    }, 100);
  };
  const beep = () => {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.connect(audio.destination);
      tone.frequency.value = 880;
      tone.start();
      tone.stop(audio.currentTime + 0.15);
    } catch { /* no audio here */ }
  };
  const stopFeed = () => { if (feed) feed.abort(); feed = null; };
  const startFeed = async () => {
    stopFeed();
    const controller = new AbortController();
    feed = controller;
    let lastId = null;
    while (!controller.signal.aborted) {
      try {
        const headers = { authorization: `Bearer ${await accessToken()}` };
        if (lastId) headers["last-event-id"] = lastId;
        const response = await fetch(`${config.api}/events`, { headers, signal: controller.signal });
        if (!response.ok) throw new Error("feed");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = {};
            for (const line of block.split("\n")) {
              const at = line.indexOf(": ");
              if (at > 0) fields[line.slice(0, at)] = line.slice(at + 2);
            }
            if (fields.id) lastId = fields.id;
            if (!fields.event || !fields.data) continue;
            const data = JSON.parse(fields.data);
            if (fields.event === "reset") loadList();
            if (fields.event === "message" || fields.event === "conversation") refreshSoon(data.conversation_id);
            if (fields.event === "conversation" && data.event.type === "handoff_requested") beep();
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };

  // --- Keyboard: arrows move through the list, Enter opens ---
  $("conversations").addEventListener("keydown", (event) => {
    const items = [...$("conversations").querySelectorAll("li[role=option]")];
    if (!items.length) return;
    const at = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = items[Math.min(items.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)))];
      next.focus();
    } else if (event.key === "Enter" && at >= 0) {
      event.preventDefault();
      items[at].click();
    }
  });
  $("conversations").addEventListener("focus", (event) => {
    const first = $("conversations").querySelector("li[role=option]");
    if (event.target === $("conversations") && first) first.focus();
  });

  // --- Start ---
  const start = async () => {
    try { me = await api("/me"); }
    catch (error) {
      saveSession(null);
      showSignIn(error.code === "not_staff" ? t("notStaff") : "");
      return;
    }
    showInbox();
  };
  $("sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      saveSession(await grant("password", { email: $("email").value, password: $("password").value }));
    } catch { $("sign-in-error").textContent = t("badLogin"); return; }
    await start();
  });
  $("sign-out").addEventListener("click", () => { saveSession(null); me = null; selected = null; showSignIn(); });
  $("language").addEventListener("click", () => {
    lang = lang === "es" ? "en" : "es";
    localStorage.setItem("talia.lang", lang);
    labels();
    if (me) { renderTabs(); loadList(); if (selected) openConversation(selected, { quiet: true }); else renderEmpty(); }
  });
  (async () => {
    config = await (await fetch("config.json")).json();
    labels();
    if (session) await start(); else showSignIn();
  })();
})();

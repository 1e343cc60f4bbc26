// Chat: conversation list, model picker per conversation, settings and presets, streamed answers
// with stop, regenerate (optionally with another model), edit and resend, export, delete.
import { api, el, formatStats, showError, stream } from "./api.js";
import { setMarkdown } from "./md.js";
import { modelList, modelSelect, paramSchema, paramsForm } from "./params.js";

export async function chatPage(root, arg) {
  const [models, schema] = await Promise.all([modelList(), paramSchema()]);
  const state = { conv: null, messages: [], running: null };

  const list = el("ul", { class: "conv-list", "data-testid": "conversations" });
  const sidebar = el("aside", { class: "sidebar" },
    el("button", { class: "primary", "data-testid": "new-chat", onclick: () => { location.hash = "#chat"; newChat(); } }, "New chat"),
    list);
  const picker = modelSelect(models, models[0] && models[0].name, { "data-testid": "model-picker", "aria-label": "Model" });
  picker.addEventListener("change", switchModel);
  const title = el("h2", { class: "conv-title", "data-testid": "conv-title" }, "New chat");
  const exportJson = el("a", { class: "button", "data-testid": "export-json", download: "" }, "Export JSON");
  const exportMd = el("a", { class: "button", "data-testid": "export-md", download: "" }, "Export Markdown");
  const del = el("button", { class: "danger", "data-testid": "delete-chat", onclick: deleteChat }, "Delete");
  const convTools = el("span", { class: "conv-tools" }, exportJson, exportMd, del);

  const system = el("textarea", { rows: 3, "data-testid": "system-prompt", placeholder: "System prompt (optional)" });
  const form = paramsForm(schema, {}, "chat");
  const presetPick = el("select", { "data-testid": "preset-pick", onchange: applyPreset });
  const presetName = el("input", { type: "text", placeholder: "preset name", "data-testid": "preset-name" });
  const settings = el("details", { class: "settings" }, el("summary", {}, "System prompt & parameters"),
    system, form.node,
    el("div", { class: "row" },
      el("button", { "data-testid": "save-settings", onclick: saveSettings }, "Apply to this chat"),
      presetPick, presetName,
      el("button", { "data-testid": "save-preset", onclick: savePreset }, "Save preset")));

  const messagesBox = el("div", { class: "messages", "data-testid": "messages", "aria-live": "polite" });
  const input = el("textarea", { rows: 3, "data-testid": "prompt", placeholder: "Send a message (Enter to send, Shift+Enter for a new line)" });
  const sendBtn = el("button", { class: "primary", type: "submit", "data-testid": "send" }, "Send");
  const stopBtn = el("button", { type: "button", "data-testid": "stop", hidden: true, onclick: () => state.running && state.running.stop() }, "Stop");
  const composer = el("form", { class: "composer", onsubmit: e => { e.preventDefault(); send(); } }, input, sendBtn, stopBtn);
  input.addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
  const status = el("div", { class: "status" });

  const main = el("section", { class: "conv" },
    el("div", { class: "toolbar" }, title, el("label", {}, "Model ", picker), convTools),
    settings, messagesBox, status, composer);
  root.append(el("div", { class: "chat" }, sidebar, main));

  async function refreshList() {
    const convs = await api("/api/conversations");
    list.replaceChildren(...convs.map(c => el("li", { class: state.conv && state.conv.id === c.id ? "active" : "" },
      el("a", { href: `#chat/${c.id}`, "data-testid": "conv-link" }, c.title),
      el("span", { class: "muted" }, c.model))));
  }

  async function refreshPresets() {
    const presets = await api("/api/presets");
    presetPick.replaceChildren(el("option", { value: "" }, "Presets…"),
      ...presets.map(p => el("option", { value: String(p.id) }, p.name)));
    presetPick._presets = presets;
  }

  function newChat() {
    state.conv = null; state.messages = [];
    title.textContent = "New chat";
    convTools.hidden = true;
    messagesBox.replaceChildren(el("p", { class: "empty" }, "Pick a model and send a message to start."));
    refreshList();
  }

  async function open(id) {
    const conv = await api(`/api/conversations/${id}`);
    state.conv = conv; state.messages = conv.messages;
    title.textContent = conv.title;
    picker.value = conv.model;
    system.value = conv.system;
    form.set(conv.params);
    exportJson.href = `/api/conversations/${id}/export?format=json`;
    exportMd.href = `/api/conversations/${id}/export?format=md`;
    convTools.hidden = false;
    renderMessages();
    refreshList();
  }

  // Rebuild only the messages that changed. When an answer finishes the conversation is reloaded;
  // a message the user is working in (an open edit box, a focused control) must stay the very same
  // node, or what they typed and their focus would be thrown away under them.
  function renderMessages() {
    const old = new Map([...messagesBox.children].filter(n => n._key).map(n => [n._key, n]));
    let at = messagesBox.firstChild;
    state.messages.forEach((m, i) => {
      const isLast = i === state.messages.length - 1;   // only the last answer offers Regenerate
      const key = JSON.stringify([m.id ?? null, m.role, m.model ?? null, m.content, m.stats ?? null,
                                  isLast && m.role === "assistant"]);
      let node = old.get(key);
      old.delete(key);
      if (!node) { node = messageNode(m, isLast); node._key = key; }
      if (node === at) at = at.nextSibling;
      else messagesBox.insertBefore(node, at);
    });
    while (at) { const next = at.nextSibling; at.remove(); at = next; }
    if (!messagesBox.contains(document.activeElement)) messagesBox.scrollTop = messagesBox.scrollHeight;
  }

  // While an answer streams (and until the conversation has been reloaded after it), nothing else
  // may start one: Send becomes Stop, and Regenerate and Save & resend are disabled.
  function setBusy(busy) {
    sendBtn.hidden = busy; stopBtn.hidden = !busy;
    for (const b of messagesBox.querySelectorAll("[data-testid=regenerate], [data-testid=edit-send]")) b.disabled = busy;
  }

  function messageNode(m, isLast) {
    const body = el("div", { class: "body", "data-testid": "msg-body" });
    setMarkdown(body, m.content);
    const who = m.role === "user" ? "You" : m.model;
    const node = el("article", { class: `msg ${m.role}`, "data-testid": `msg-${m.role}` },
      el("header", {}, el("span", { class: "who", "data-testid": "msg-model" }, who)),
      body,
      el("footer", {}, el("span", { class: "stats", "data-testid": "msg-stats" }, formatStats(m.stats))));
    const actions = el("span", { class: "actions" });
    if (m.role === "user") actions.append(el("button", { class: "link", "data-testid": "edit", onclick: () => editMessage(m, node) }, "Edit"));
    if (m.role === "assistant" && isLast) {
      const other = modelSelect(models, m.model, { "data-testid": "regen-model", "aria-label": "Regenerate with" });
      actions.append(el("button", { class: "link", "data-testid": "regenerate", disabled: Boolean(state.running),
                                    onclick: () => regenerate(other.value) }, "Regenerate with"), other);
    }
    node.querySelector("footer").append(actions);
    return node;
  }

  function editMessage(m, node) {
    const box = el("textarea", { rows: 3, "data-testid": "edit-box" });
    box.value = m.content;
    const save = el("button", { class: "primary", "data-testid": "edit-send", disabled: Boolean(state.running),
                                onclick: () => resend(m, box.value) }, "Save & resend");
    node.querySelector(".body").replaceChildren(box, save);
  }

  // The edited message shows at once and the answers after it go, as the server does.
  async function resend(m, content) {
    if (state.running) return;
    const i = state.messages.findIndex(x => x.id === m.id);
    if (i >= 0) state.messages = [...state.messages.slice(0, i), { ...state.messages[i], content }];
    await run(`/api/conversations/${state.conv.id}/messages/${m.id}`, { content, model: picker.value }, "PUT");
  }

  async function ensureConversation() {
    if (state.conv) return state.conv;
    const conv = await api("/api/conversations", { method: "POST",
      body: { model: picker.value, system: system.value, params: form.read() } });
    state.conv = conv;
    history.replaceState(null, "", `#chat/${conv.id}`);
    exportJson.href = `/api/conversations/${conv.id}/export?format=json`;
    exportMd.href = `/api/conversations/${conv.id}/export?format=md`;
    convTools.hidden = false;
    return conv;
  }

  async function send() {
    const text = input.value;
    if (!text.trim() || state.running) return;
    status.replaceChildren();
    let conv;
    try { conv = await ensureConversation(); } catch (err) { showError(status, err); return; }
    input.value = "";
    state.messages.push({ role: "user", content: text });
    await run(`/api/conversations/${conv.id}/messages`, { content: text, model: picker.value });
  }

  async function regenerate(model) {
    if (state.running) return;
    if (state.messages.length && state.messages[state.messages.length - 1].role === "assistant") state.messages.pop();
    await run(`/api/conversations/${state.conv.id}/regenerate`, { model });
  }

  // Stream one answer into a fresh bubble, then reload the conversation from the store.
  async function run(path, body, method = "POST") {
    renderMessages();
    const bubble = messageNode({ role: "assistant", content: "", model: body.model || picker.value }, false);
    bubble.classList.add("streaming");
    messagesBox.append(bubble);
    const target = bubble.querySelector(".body");
    let text = "";
    const handle = stream(path, body, onEvent, method);
    state.running = handle;
    setBusy(true);
    function onEvent(ev) {
      if (ev.type === "delta") { text += ev.text; setMarkdown(target, text); messagesBox.scrollTop = messagesBox.scrollHeight; }
    }
    try {
      await handle.done;
    } catch (err) {
      showError(status, err);
    } finally {
      try {
        if (state.conv) await open(state.conv.id);
      } finally {
        state.running = null;
        setBusy(false);
      }
    }
  }

  async function switchModel() {
    if (!state.conv) return;
    try { state.conv = await api(`/api/conversations/${state.conv.id}`, { method: "PATCH", body: { model: picker.value } }); }
    catch (err) { showError(status, err); }
    refreshList();
  }

  async function saveSettings() {
    status.replaceChildren();
    if (!state.conv) { status.append(el("div", { class: "note" }, "Settings will apply to the new chat.")); return; }
    try {
      await api(`/api/conversations/${state.conv.id}`, { method: "PATCH", body: { system: system.value, params: form.read() } });
      status.append(el("div", { class: "note", "data-testid": "settings-saved" }, "Settings saved."));
    } catch (err) { showError(status, err); }
  }

  function applyPreset() {
    const p = (presetPick._presets || []).find(x => String(x.id) === presetPick.value);
    if (!p) return;
    system.value = p.system; form.set(p.params); presetName.value = p.name;
  }

  async function savePreset() {
    status.replaceChildren();
    try {
      await api("/api/presets", { method: "POST", body: { name: presetName.value.trim(), system: system.value, params: form.read() } });
      await refreshPresets();
    } catch (err) { showError(status, err); }
  }

  async function deleteChat() {
    if (!state.conv || !confirm(`Delete "${state.conv.title}"?`)) return;
    await api(`/api/conversations/${state.conv.id}`, { method: "DELETE" });
    location.hash = "#chat";
    newChat();
  }

  await refreshPresets();
  if (arg) await open(arg); else newChat();
  return {
    update(id) { if (id && (!state.conv || String(state.conv.id) !== id)) open(id); else if (!id && state.conv && !state.running) newChat(); },
    leave() { if (state.running) state.running.stop(); },
  };
}

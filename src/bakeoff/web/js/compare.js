// Side by side: one prompt to 2-4 models; answers stream into parallel panes with their stats.
import { el, formatStats, showError, stream } from "./api.js";
import { setMarkdown } from "./md.js";
import { modelList, paramSchema, paramsForm } from "./params.js";

const MAX_PANES = 4;

export async function comparePage(root) {
  const [models, schema] = await Promise.all([modelList(), paramSchema()]);
  const boxes = models.map((m, i) => el("input", { type: "checkbox", value: m.name, checked: i < 2, "data-testid": "compare-model" }));
  const picks = el("fieldset", { class: "picks" }, el("legend", {}, `Models (2–${MAX_PANES})`),
    ...models.map((m, i) => el("label", { class: "check" }, boxes[i], ` ${m.name}`)));
  const system = el("textarea", { rows: 2, placeholder: "System prompt (optional)", "data-testid": "compare-system" });
  const form = paramsForm(schema, {}, "cmp");
  const prompt = el("textarea", { rows: 3, placeholder: "One prompt, sent to every model you ticked", "data-testid": "compare-prompt" });
  const runBtn = el("button", { class: "primary", "data-testid": "compare-send", onclick: runAll }, "Send to all");
  const stopBtn = el("button", { hidden: true, "data-testid": "compare-stop", onclick: () => handles.forEach(h => h.stop()) }, "Stop all");
  const status = el("div", { class: "status" });
  const panes = el("div", { class: "panes", "data-testid": "panes" });
  let handles = [];

  root.append(el("section", { class: "compare" }, el("h2", {}, "Side by side"), picks,
    el("details", { class: "settings" }, el("summary", {}, "System prompt & parameters"), system, form.node),
    prompt, el("div", { class: "row" }, runBtn, stopBtn), status, panes));

  async function runAll() {
    status.replaceChildren();
    const chosen = boxes.filter(b => b.checked).map(b => b.value);
    if (chosen.length < 2 || chosen.length > MAX_PANES) {
      showError(status, { message: `tick between 2 and ${MAX_PANES} models (you ticked ${chosen.length})` });
      return;
    }
    if (!prompt.value.trim()) { showError(status, { message: "write a prompt first" }); return; }
    const messages = [...(system.value.trim() ? [{ role: "system", content: system.value }] : []),
                      { role: "user", content: prompt.value }];
    panes.style.setProperty("--cols", String(chosen.length));
    panes.replaceChildren();
    runBtn.disabled = true; stopBtn.hidden = false;
    handles = chosen.map(model => runPane(model, messages, form.read()));
    await Promise.allSettled(handles.map(h => h.done));
    runBtn.disabled = false; stopBtn.hidden = true;
  }

  function runPane(model, messages, params) {
    const body = el("div", { class: "body", "data-testid": "pane-body" });
    const stats = el("div", { class: "stats", "data-testid": "pane-stats" }, "waiting…");
    const pane = el("article", { class: "pane streaming", "data-testid": "pane" },
      el("header", {}, el("strong", { "data-testid": "pane-model" }, model)), body, stats);
    panes.append(pane);
    let text = "";
    const handle = stream("/api/generate", { model, messages, params }, ev => {
      if (ev.type === "delta") { text += ev.text; setMarkdown(body, text); stats.textContent = "streaming…"; }
    });
    handle.done.then(ev => { stats.textContent = formatStats(ev.stats); },
                     err => { stats.textContent = ""; showError(pane, err); })
      .finally(() => pane.classList.remove("streaming"));
    return handle;
  }

  return { leave() { handles.forEach(h => h.stop()); } };
}

// Sampling-parameter form built from /api/params (which is derived from GenParams), and the
// model picker. Both are shared by chat, side by side and arena.
import { api, el } from "./api.js";

let schemaCache = null;
let modelsCache = null;

export async function paramSchema() {
  schemaCache = schemaCache || await api("/api/params");
  return schemaCache;
}

export async function modelList(refresh = false) {
  if (refresh || !modelsCache) modelsCache = await api("/api/models");
  return modelsCache;
}

export function modelSelect(models, selected, attrs = {}) {
  const select = el("select", attrs);
  for (const m of models) {
    const label = `${m.name}${m.remote ? " (remote)" : ""}`;
    select.append(el("option", { value: m.name, selected: m.name === selected }, label));
  }
  return select;
}

// Returns {node, read(), set(values)}; read() gives only the fields the user filled in.
export function paramsForm(schema, values = {}, prefix = "p") {
  const inputs = {};
  const grid = el("div", { class: "params" });
  for (const f of schema) {
    const id = `${prefix}-${f.name}`;
    const input = f.name === "stop"
      ? el("input", { id, type: "text", placeholder: "comma-separated" })
      : el("input", { id, type: "number", step: "any", min: f.min ?? undefined, max: f.max ?? undefined,
                      placeholder: f.default === null ? "none" : String(f.default) });
    input.dataset.param = f.name;
    inputs[f.name] = input;
    grid.append(el("label", { for: id, title: f.description }, f.name.replace(/_/g, " ")), input);
  }
  const form = {
    node: grid,
    read() {
      const out = {};
      for (const [name, input] of Object.entries(inputs)) {
        const v = input.value.trim();
        if (!v) continue;
        out[name] = name === "stop" ? v.split(",").map(s => s.trim()).filter(Boolean) : Number(v);
      }
      return out;
    },
    set(vals) {
      for (const [name, input] of Object.entries(inputs)) {
        const v = vals ? vals[name] : undefined;
        input.value = v === undefined || v === null ? "" : (Array.isArray(v) ? v.join(", ") : String(v));
      }
    },
  };
  form.set(values);
  return form;
}

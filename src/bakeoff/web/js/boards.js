// Leaderboard (bakeoff and benchmark runs from the store, arena ratings) and catalog pages.
import { api, el } from "./api.js";
import { ratingsTable } from "./arena.js";

const pct = x => `${(100 * x).toFixed(1)}%`;

// A horizontal bar with a ±1.96·SE whisker, drawn with CSS widths (no chart library).
function bar(value, se) {
  const lo = Math.max(0, value - 1.96 * se), hi = Math.min(1, value + 1.96 * se);
  return el("div", { class: "bar", title: `${pct(value)} (95% CI ${pct(lo)}–${pct(hi)})` },
    el("span", { class: "fill", style: `width:${(100 * value).toFixed(1)}%` }),
    el("span", { class: "whisker", style: `left:${(100 * lo).toFixed(1)}%;width:${(100 * (hi - lo)).toFixed(1)}%` }));
}

function table(headers, rows) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))),
    el("tbody", {}, ...rows)));
}

function bakeoffTable(runs) {
  if (!runs.length) return el("p", { class: "empty", "data-testid": "no-bakeoffs" }, "No bakeoff runs yet. Run one with `bakeoff run` and it appears here.");
  return table(["Run", "Suite", "Model", "Pass rate (95% CI)", "", "Mean score", "Cost (USD)", "Median tok/s", "n"],
    runs.map(r => el("tr", { "data-testid": "bakeoff-row" },
      el("td", {}, `#${r.run_id}`), el("td", {}, r.suite), el("td", {}, r.model),
      el("td", {}, `${pct(r.pass_rate)} ± ${pct(1.96 * r.pass_rate_se)}`), el("td", { class: "bar-cell" }, bar(r.pass_rate, r.pass_rate_se)),
      el("td", {}, r.mean_score.toFixed(3)), el("td", {}, r.cost_usd.toFixed(5)),
      el("td", {}, r.median_output_tps.toFixed(1)), el("td", {}, String(r.n)))));
}

function benchTable(rows) {
  if (!rows.length) return el("p", { class: "empty", "data-testid": "no-benchmarks" }, "No benchmark runs yet. Run one with `bakeoff bench` and it appears here.");
  return table(["Run", "Benchmark", "Model", "Metric", "Value", "± SE", "n"],
    rows.map(r => el("tr", { "data-testid": "bench-row" },
      el("td", {}, `#${r.run_id ?? ""}`), el("td", {}, r.benchmark ?? ""), el("td", {}, r.model ?? ""),
      el("td", {}, r.metric ?? ""), el("td", {}, typeof r.value === "number" ? r.value.toFixed(4) : String(r.value ?? "")),
      el("td", {}, typeof r.stderr === "number" ? r.stderr.toFixed(4) : ""), el("td", {}, String(r.n ?? "")))));
}

export async function leaderboardPage(root) {
  const [board, arena] = await Promise.all([api("/api/leaderboard"), api("/api/arena/ratings")]);
  root.append(el("section", { class: "board" }, el("h2", {}, "Leaderboard"),
    el("h3", {}, "Bakeoffs"), bakeoffTable(board.bakeoffs),
    el("h3", {}, "Benchmarks"), benchTable(board.benchmarks),
    el("h3", {}, "Arena"), ratingsTable(arena)));
  return {};
}

// --- catalog ---------------------------------------------------------------------------------

const text = v => (v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v));

function safeLink(url, label) {
  return /^https:\/\//.test(String(url)) ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, label) : el("span", {}, label);
}

function card(m) {
  const facts = ["org", "family", "size", "params_b", "active_params_b", "arch", "context", "license", "commercial",
                 "tier", "mof", "index", "released", "tasks", "languages", "base", "hf_repo"]
    .filter(k => m[k] !== undefined && m[k] !== null)
    .map(k => [el("dt", {}, k.replace(/_/g, " ")), el("dd", {}, text(m[k]))]).flat();
  const links = m.sources && typeof m.sources === "object" ? Object.entries(m.sources)
    : (m.source ? [["source", m.source]] : []);
  const sources = links.length
    ? el("p", { class: "sources" }, "Sources: ", ...links.map(([k, u]) => [safeLink(u, k), " "]).flat())
    : null;
  return el("article", { class: "card", "data-testid": "catalog-card" },
    el("h3", {}, m.name || m.id), m.id ? el("code", {}, m.id) : null, el("dl", {}, ...facts), sources);
}

export async function catalogPage(root) {
  const entries = await api("/api/catalog");
  const section = el("section", { class: "catalog" }, el("h2", {}, "Catalog"));
  root.append(section);
  if (!entries.length) {
    section.append(el("p", { class: "empty", "data-testid": "catalog-empty" }, "The catalog is empty in this installation: no entries are available from bakeoff.catalog yet."));
    return {};
  }
  const values = key => [...new Set(entries.flatMap(e => [].concat(e[key] ?? [])).map(String))].sort();
  const query = el("input", { type: "search", placeholder: "Filter by name, family…", "data-testid": "catalog-filter" });
  const licence = el("select", { "data-testid": "catalog-license" }, el("option", { value: "" }, "Any licence"), ...values("license").map(v => el("option", { value: v }, v)));
  const task = el("select", { "data-testid": "catalog-task" }, el("option", { value: "" }, "Any task"), ...values("tasks").map(v => el("option", { value: v }, v)));
  const grid = el("div", { class: "cards" });
  const count = el("p", { class: "muted" });
  function apply() {
    const q = query.value.trim().toLowerCase();
    const shown = entries.filter(e => (!q || JSON.stringify([e.id, e.name, e.family]).toLowerCase().includes(q))
      && (!licence.value || String(e.license) === licence.value)
      && (!task.value || [].concat(e.tasks ?? []).map(String).includes(task.value)));
    count.textContent = `${shown.length} of ${entries.length} models`;
    grid.replaceChildren(...shown.map(card));
  }
  for (const c of [query, licence, task]) c.addEventListener("input", apply);
  section.append(el("div", { class: "row" }, query, licence, task), count, grid);
  apply();
  return {};
}

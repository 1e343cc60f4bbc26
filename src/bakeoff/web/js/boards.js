// Leaderboard (bakeoff runs with the HTML report's charts, benchmark runs, arena ratings) and catalog pages.
import { api, el, showError } from "./api.js";
import { ratingsTable } from "./arena.js";

// --- bakeoff runs: the report's own table columns and SVG charts --------------------------------

function table(headers, rows) {
  return el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))),
    el("tbody", {}, ...rows)));
}

// The charts come from the server as SVG text drawn by evals/charts.py (the HTML report's code),
// which escapes every label. They are parsed as XML, never as HTML, and anything but the few
// drawing elements the charts use is dropped, so a model's name can only ever be text.
const SVG_TAGS = new Set(["svg", "g", "line", "circle", "text", "title"]);

function chartNode(markup) {
  const doc = new DOMParser().parseFromString(markup, "image/svg+xml");
  const root = doc.documentElement;
  if (root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) {
    return el("p", { class: "error" }, "This chart could not be drawn.");
  }
  for (const node of [root, ...root.querySelectorAll("*")]) {
    if (!SVG_TAGS.has(node.localName)) { node.remove(); continue; }
    for (const a of [...node.attributes]) {
      if (/^on|href$/i.test(a.localName) || a.localName === "style") node.removeAttribute(a.name);
    }
  }
  return document.importNode(root, true);
}

function runLabel(r) {
  const when = String(r.created_at || "").replace("T", " ").slice(0, 16);
  return `#${r.id} · ${r.suite} · ${(r.models || []).length} models · ${when}${r.status === "done" ? "" : ` · ${r.status}`}`;
}

// Every number arrives as text (r.text, from evals/columns.py): the same strings `bakeoff run`
// prints and the HTML report shows.
function boardTable(rows, benchmarks, drafts) {
  return table(["Rank", "Model", "Pass rate ± SE (n)", "Mean score ± SE", "$ per passing case",
                ...benchmarks.map(([, header]) => header),
                "TTFT ms", "Output tok/s", "Prompt tok/s", ...(drafts ? ["Draft acceptance ± SE (n answers)"] : []),
                "$/1M blended 3:1", "Peak RSS (+model)", "Status"],
    rows.map(r => el("tr", { "data-testid": "bakeoff-row", "data-model": r.model },
      el("td", {}, String(r.rank)), el("td", {}, r.model), el("td", {}, r.text.pass_rate),
      el("td", {}, r.text.mean_score), el("td", {}, r.text.cost_per_pass),
      ...benchmarks.map(([task]) => el("td", {}, r.text.benchmarks[task])),
      el("td", {}, r.text.ttft_ms), el("td", {}, r.text.output_tps), el("td", {}, r.text.prompt_tps),
      ...(drafts ? [el("td", { "data-testid": "acceptance" }, r.text.acceptance)] : []),
      el("td", {}, r.text.cost_blended), el("td", {}, r.text.peak_rss),
      el("td", {}, r.error ? `failed: ${r.error}` : r.status))));
}

// The report's pairwise matrix, every string from evals/compare.py (pair_matrix): row against
// column, cases only the row passed – only the column passed, Holm-adjusted p, the score difference.
const PAIR_CLASS = { better: "pass", worse: "fail", tie: "" };

function pairTable(pairs) {
  if (pairs.length < 2) return null;
  const header = el("tr", {}, el("th", {}, "row vs column"), ...pairs.map(p => el("th", {}, p.model)));
  const rows = pairs.map(p => el("tr", { "data-testid": "pair-row", "data-model": p.model },
    el("th", {}, p.model, p.rank === null ? "" : el("span", { class: "muted" }, ` (rank ${p.rank})`)),
    ...p.cells.map(c => c === null ? el("td", { class: "muted" }, "–")
      : el("td", { class: `pair ${PAIR_CLASS[c.state] ?? ""}`, title: c.title, "data-state": c.state },
           el("div", {}, c.text), el("div", { class: "muted" }, c.interval), el("div", { class: "muted" }, c.ties)))));
  return el("div", { "data-testid": "pairs" },
    el("h4", {}, "Pairwise comparisons"),
    el("p", { class: "muted" }, "Row model against column model on their common cases: cases only the row passed – cases only the column passed, Holm-adjusted exact McNemar p; the row's mean score minus the column's with its 95% paired bootstrap interval; cases both passed or both failed. Green: the row is significantly better; red: worse. Hover a cell for the verdict."),
    el("div", { class: "table-wrap" }, el("table", { class: "pairs" }, el("thead", {}, header), el("tbody", {}, ...rows))));
}

function settingsLine(run) {
  const s = run.settings || {};
  const speed = s.speed ? `speed: median (P5–P95) of n=${s.speed_repeats} repeats, concurrency 1` : "speed not measured";
  return `Suite ${run.suite_name} · ${s.threads} threads · context ${s.n_ctx} · $${s.hourly_cost}/hour · cases greedy · ${speed}`;
}

async function showRun(box, id) {
  const board = await api(`/api/bakeoffs/${encodeURIComponent(id)}`);
  box.replaceChildren(
    el("p", { class: "muted", "data-testid": "bakeoff-settings" }, settingsLine(board.run)),
    boardTable(board.rows, board.benchmarks, board.drafts),
    ...board.rows.filter(r => r.text.speed_warning).map(r =>
      el("p", { class: "warn", "data-testid": "speed-warning" }, `⚠ ${r.model}: ${r.text.speed_warning}`)),
    el("p", { class: "muted" }, "Pass-rate SE = √(p(1−p)/n); n = cases per model. Rank = 1 + the number of models significantly better (exact McNemar on the same cases, Holm-adjusted)."),
    ...(board.ranking ? [el("p", { "data-testid": "ranking" }, board.ranking)] : []),
    ...[pairTable(board.pairs || [])].filter(Boolean),
    el("div", { class: "charts", "data-testid": "bakeoff-charts" }, chartNode(board.charts.cost), chartNode(board.charts.speed)),
    ...(board.prices_note ? [el("p", { class: "warn", "data-testid": "prices-note" }, board.prices_note)] : []),
    el("p", {}, el("a", { href: `/api/bakeoffs/${encodeURIComponent(id)}/report`, target: "_blank",
                           rel: "noopener", "data-testid": "open-report" }, "Open full report")));
}

function bakeoffSection(runs) {
  if (!runs.length) return el("p", { class: "empty", "data-testid": "no-bakeoffs" }, "No bakeoff runs yet. Run one with `bakeoff run` and it appears here.");
  const box = el("div", { class: "bakeoff-run" });
  const picker = el("select", { "data-testid": "bakeoff-run", "aria-label": "Bakeoff run" },
    ...runs.map(r => el("option", { value: String(r.id) }, runLabel(r))));
  const show = () => showRun(box, picker.value).catch(err => { box.replaceChildren(); showError(box, err); });
  picker.addEventListener("change", show);
  show();
  return el("div", {}, el("div", { class: "row" }, el("label", {}, "Run ", picker)), box);
}

function benchTable(rows) {
  if (!rows.length) return el("p", { class: "empty", "data-testid": "no-benchmarks" }, "No benchmark runs yet. Run one with `bakeoff bench` and it appears here.");
  return table(["Run", "Benchmark", "Model", "Metric", "Score % ± SE (n)"],
    rows.map(r => el("tr", { "data-testid": "bench-row" },
      el("td", {}, `#${r.run_id}`), el("td", {}, r.benchmark), el("td", {}, r.model),
      el("td", {}, r.metric), el("td", {}, r.text))));
}

export async function leaderboardPage(root) {
  const [board, arena] = await Promise.all([api("/api/leaderboard"), api("/api/arena/ratings")]);
  root.append(el("section", { class: "board" }, el("h2", {}, "Leaderboard"),
    el("h3", {}, "Bakeoffs"), bakeoffSection(board.bakeoffs),
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
  const sources = m.source ? el("p", { class: "sources" }, "Source: ", safeLink(m.source, "model card")) : null;
  return el("article", { class: "card", "data-testid": "catalog-card" },
    el("h3", {}, m.name || m.id), m.id ? el("code", {}, m.id) : null, el("dl", {}, ...facts), sources);
}

export async function catalogPage(root) {
  const entries = await api("/api/catalog");
  const section = el("section", { class: "catalog" }, el("h2", {}, "Catalog"));
  root.append(section);
  if (!entries.length) {
    section.append(el("p", { class: "empty", "data-testid": "catalog-empty" }, "The catalog has no entries."));
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

// Blind arena: two anonymous answers side by side (random left/right, chosen by the server),
// vote A / B / tie / both bad, identities shown only after the vote; optional judge model.
import { api, el, formatStats, showError, stream } from "./api.js";
import { setMarkdown } from "./md.js";
import { modelList } from "./params.js";

const VOTES = [["a", "A is better"], ["b", "B is better"], ["tie", "Tie"], ["both_bad", "Both are bad"]];

export async function arenaPage(root) {
  const models = await modelList();
  const prompt = el("textarea", { rows: 3, placeholder: "Ask anything; two anonymous models answer", "data-testid": "arena-prompt" });
  const maxTokens = el("input", { type: "number", min: 1, placeholder: "512", "data-testid": "arena-max-tokens", "aria-label": "max tokens" });
  const judge = el("select", { "data-testid": "arena-judge", "aria-label": "Judge" },
    el("option", { value: "" }, "I vote myself"),
    ...models.map(m => el("option", { value: m.name }, `Judge: ${m.name}`)));
  const go = el("button", { class: "primary", "data-testid": "arena-send", onclick: battle }, "Battle");
  const status = el("div", { class: "status" });
  const panes = el("div", { class: "panes", style: "--cols: 2" });
  const voteBar = el("div", { class: "votes", hidden: true });
  const result = el("div", { class: "note", "data-testid": "vote-result" });
  const voter = el("select", { "data-testid": "ratings-voter", "aria-label": "Votes", onchange: loadRatings },
    el("option", { value: "all" }, "All votes"), el("option", { value: "human" }, "Human votes"),
    el("option", { value: "judge" }, "Judge votes"));
  const ratings = el("div", { "data-testid": "ratings" });
  let current = null;

  for (const [w, label] of VOTES) voteBar.append(el("button", { "data-testid": `vote-${w}`, onclick: () => vote(w) }, label));
  voteBar.append(el("button", { class: "link", "data-testid": "reveal", onclick: reveal }, "Reveal without voting"));

  root.append(el("section", { class: "arena" }, el("h2", {}, "Arena"),
    el("p", { class: "muted" }, "Two models, picked at random and shown as Model A and Model B, answer the same prompt. Their names appear after you vote; a vote cast after the names were shown is not counted."),
    prompt, el("div", { class: "row" }, go, el("label", {}, "max tokens ", maxTokens), judge),
    status, panes, voteBar, result,
    el("h3", {}, "Ratings"), el("div", { class: "row" }, voter), ratings));

  async function battle() {
    status.replaceChildren(); result.replaceChildren(); voteBar.hidden = true;
    if (!prompt.value.trim()) { showError(status, { message: "write a prompt first" }); return; }
    const params = maxTokens.value ? { max_tokens: Number(maxTokens.value) } : {};
    go.disabled = true;
    try {
      const b = await api("/api/arena/battles", { method: "POST", body: { prompt: prompt.value, params } });
      current = { id: b.id, panes: {} };
      panes.replaceChildren(...["a", "b"].map(side => pane(side, b.labels[side])));
      const outcomes = await Promise.allSettled(["a", "b"].map(side => answer(side)));
      const failed = outcomes.find(o => o.status === "rejected");
      if (failed) { showError(status, failed.reason); return; }
      if (judge.value) await judgeBattle(judge.value);
      else voteBar.hidden = false;
    } catch (err) {
      showError(status, err);
    } finally {
      go.disabled = false;
    }
  }

  function pane(side, label) {
    const body = el("div", { class: "body", "data-testid": `answer-${side}` });
    const who = el("span", { class: "identity", "data-testid": `identity-${side}` });
    const stats = el("div", { class: "stats", "data-testid": `arena-stats-${side}` });
    current.panes[side] = { body, who, stats };
    return el("article", { class: "pane" }, el("header", {}, el("strong", {}, label), " ", who), body, stats);
  }

  function answer(side) {
    let text = "";
    const { body } = current.panes[side];
    const h = stream(`/api/arena/battles/${current.id}/answer/${side}`, {}, ev => {
      if (ev.type === "delta") { text += ev.text; setMarkdown(body, text); }
    });
    return h.done;
  }

  function showReveal(view) {
    for (const side of ["a", "b"]) {
      current.panes[side].who.textContent = `— ${view.models[side]}`;
      current.panes[side].stats.textContent = formatStats(view.stats[side]);
    }
  }

  async function vote(winner) {
    try {
      const view = await api(`/api/arena/battles/${current.id}/vote`, { method: "POST", body: { winner } });
      showReveal(view);
      voteBar.hidden = true;
      result.textContent = view.vote.counted ? "Vote counted." : "Vote recorded but not counted: the names were shown before it.";
      await loadRatings();
    } catch (err) { showError(status, err); }
  }

  async function reveal() {
    try {
      showReveal(await api(`/api/arena/battles/${current.id}/reveal`, { method: "POST" }));
      result.textContent = "Names shown; a vote now is kept but does not count.";
    } catch (err) { showError(status, err); }
  }

  async function judgeBattle(name) {
    result.textContent = `${name} is judging both orders…`;
    const view = await api(`/api/arena/battles/${current.id}/judge`, { method: "POST", body: { judge: name } });
    showReveal(view);
    const j = view.judge;
    result.textContent = `Judge ${j.judge}: with A first it chose ${j.a_first.verdict}, with B first ${j.b_first.verdict} → ${view.vote.winner}` +
      (j.a_first.verdict !== j.b_first.verdict ? " (the orders disagree, so it counts as a tie)." : ".");
    await loadRatings();
  }

  async function loadRatings() {
    try { ratings.replaceChildren(ratingsTable(await api(`/api/arena/ratings?voter=${voter.value}`))); }
    catch (err) { ratings.replaceChildren(); showError(ratings, err); }
  }

  await loadRatings();
  return {};
}

export function ratingsTable(data) {
  if (!data.ratings.length) return el("p", { class: "empty", "data-testid": "ratings-empty" }, "No counted votes yet.");
  const head = el("tr", {}, ...["Rank", "Model", "Rating", "95% CI", "Elo", "Games", "W / L / T"].map(h => el("th", {}, h)));
  const rows = data.ratings.map(r => el("tr", { "data-testid": "rating-row" },
    el("td", {}, String(r.rank)), el("td", { "data-testid": "rating-model" }, r.model),
    el("td", { "data-testid": "rating-value" }, r.text.rating), el("td", {}, r.text.ci),
    el("td", {}, r.text.elo), el("td", {}, String(r.games)),
    el("td", {}, `${r.wins} / ${r.losses} / ${r.ties}`)));
  return el("div", { class: "table-wrap" },
    el("table", { class: "ratings" }, el("thead", {}, head), el("tbody", {}, ...rows)),
    el("p", { class: "muted", "data-testid": "ratings-note" },
      `${data.n_votes} counted votes (${data.votes} cast in all) · ${data.method}, ${data.n_boot} resamples · ` +
      `prior ${data.prior} virtual tie per pair · online Elo K=${data.elo_k}`));
}

// Hash router: #chat[/id], #compare, #arena, #leaderboard, #catalog.
import { showError } from "./api.js";
import { chatPage } from "./chat.js";
import { comparePage } from "./compare.js";
import { arenaPage } from "./arena.js";
import { leaderboardPage, catalogPage } from "./boards.js";

const PAGES = { chat: chatPage, compare: comparePage, arena: arenaPage,
                leaderboard: leaderboardPage, catalog: catalogPage };
let current = null;

async function route() {
  const [name, arg] = (location.hash.replace(/^#/, "") || "chat").split("/");
  const page = PAGES[name] ? name : "chat";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  const root = document.getElementById("page");
  if (current && current.name === page && current.update) { current.update(arg); return; }
  if (current && current.leave) current.leave();
  root.replaceChildren();
  root.dataset.view = page;
  try {
    current = { name: page, ...(await PAGES[page](root, arg)) };
  } catch (err) {
    showError(root, err);
    current = null;
  }
}

window.addEventListener("hashchange", route);
route();

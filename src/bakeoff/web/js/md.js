// A small Markdown renderer for untrusted text (model output and user messages).
// Safety rule: every piece of source text is HTML-escaped before any markup is added, and the
// only markup added is a fixed set of tags without event attributes. Link targets must be
// http(s) URLs; anything else stays plain text. So `<script>` or `<img onerror=...>` in the
// input can only ever come out as visible text.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, c => ESC[c]);
}

// Past this many characters a line gets no inline markup (escaped text only): a model's answer
// can be one huge line, and the UI renders it again at every streamed token.
export const MAX_MARKUP_LINE = 20000;

// Inline markup on one line of raw text: code spans first (their content is literal), then
// links, bold and italics on the escaped remainder. Every pattern stops at the next character that
// could begin another match of it (a link label or URL cannot hold "[", bold and italics cannot
// hold their marker), so each scan is linear: "[a](http://" repeated took seconds per render.
function inline(raw) {
  if (raw.length > MAX_MARKUP_LINE) return escapeHtml(raw);
  const pieces = raw.split(/(`[^`\n]+`)/);
  return pieces.map((piece, i) => {
    if (i % 2 === 1) return `<code>${escapeHtml(piece.slice(1, -1))}</code>`;
    let s = escapeHtml(piece);
    s = s.replace(/\[([^\][]+)\]\((https?:\/\/[^\s()[\]]+)\)/g,
      (_, label, url) => `<a href="${url}" target="_blank" rel="noopener noreferrer nofollow">${label}</a>`);
    s = s.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
    s = s.replace(/(^|[^*\w])\*([^*\s][^*]*?)\*(?!\w)/g, "$1<em>$2</em>");
    s = s.replace(/(^|[^_\w])_([^_\s][^_]*?)_(?!\w)/g, "$1<em>$2</em>");
    return s;
  }).join("");
}

function codeBlock(lines, lang) {
  const cls = lang ? ` class="language-${lang}"` : "";
  const label = lang ? `<span class="code-lang">${lang}</span>` : "";
  return `<pre>${label}<code${cls}>${escapeHtml(lines.join("\n"))}</code></pre>`;
}

const BLOCK_RULES = [
  { re: /^(#{1,6})\s+(.*)$/, render: m => `<h${m[1].length}>${inline(m[2])}</h${m[1].length}>` },
  { re: /^\s*([-*_])(\s*\1){2,}\s*$/, render: () => "<hr>" },
];

export function renderMarkdown(source) {
  const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let para = [], list = null, quote = [];
  const flushPara = () => { if (para.length) out.push(`<p>${para.map(inline).join("<br>")}</p>`); para = []; };
  const flushList = () => {
    if (list) out.push(`<${list.tag}>${list.items.map(t => `<li>${inline(t)}</li>`).join("")}</${list.tag}>`);
    list = null;
  };
  const flushQuote = () => { if (quote.length) out.push(`<blockquote>${renderMarkdown(quote.join("\n"))}</blockquote>`); quote = []; };
  const flushAll = () => { flushPara(); flushList(); flushQuote(); };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^\s*```\s*([A-Za-z0-9_+#-]*)/);
    if (fence) {
      flushAll();
      const body = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i]);
      out.push(codeBlock(body, fence[1].toLowerCase()));   // an unclosed fence (mid-stream) ends here
      continue;
    }
    if (/^>\s?/.test(line)) { flushPara(); flushList(); quote.push(line.replace(/^>\s?/, "")); continue; }
    flushQuote();
    const rule = BLOCK_RULES.map(r => [r, line.match(r.re)]).find(([, m]) => m);
    if (rule) { flushAll(); out.push(rule[0].render(rule[1])); continue; }
    const item = line.match(/^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/);
    if (item) {
      flushPara();
      const tag = item[1] ? "ul" : "ol";
      if (list && list.tag !== tag) flushList();
      list = list || { tag, items: [] };
      list.items.push(item[3]);
      continue;
    }
    if (!line.trim()) { flushAll(); continue; }
    if (list && /^\s{2,}/.test(line)) { list.items[list.items.length - 1] += " " + line.trim(); continue; }
    flushList();
    para.push(line);
  }
  flushAll();
  return out.join("");
}

// Render into an element. The HTML comes only from renderMarkdown above.
export function setMarkdown(node, source) {
  node.innerHTML = renderMarkdown(source);
}

// JSON helpers and the NDJSON stream reader shared by every page.

export class ApiError extends Error {
  constructor(message, hint) { super(message); this.hint = hint || ""; }
}

async function raiseFor(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const err = body && body.error;
  if (err) throw new ApiError(err.message, err.hint);
  const detail = body && body.detail;
  const msg = Array.isArray(detail) ? detail.map(d => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ")
                                    : (detail || res.statusText);
  throw new ApiError(`${res.status} ${msg}`);
}

export async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: {} };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, init);
  if (!res.ok) await raiseFor(res);
  return res.json();
}

// POST body to path and call onEvent for each NDJSON event. Returns a handle whose stop()
// asks the server to stop (the answer so far is kept) and whose done resolves with the final
// "done" event (or rejects with an ApiError).
export function stream(path, body, onEvent, method = "POST") {
  const controller = new AbortController();
  let streamId = null;
  let stopRequested = false;
  const done = (async () => {
    const res = await fetch(path, {
      method, body: JSON.stringify(body), signal: controller.signal,
      headers: { "Content-Type": "application/json" },
    });
    if (!res.ok) await raiseFor(res);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done: finished } = await reader.read();
      if (finished) break;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.trim()) continue;
        const event = JSON.parse(line);
        if (event.type === "start") {
          streamId = event.stream;
          if (stopRequested) requestStop();
        } else if (event.type === "error") {
          throw new ApiError(event.message, event.hint);
        } else if (event.type === "done") {
          onEvent(event);
          return event;
        } else {
          onEvent(event);
        }
      }
    }
    throw new ApiError("the answer stream ended early", "check the server log");
  })();
  function requestStop() {
    return fetch(`/api/streams/${streamId}/stop`, { method: "POST" }).catch(() => controller.abort());
  }
  return {
    done,
    stop() {
      stopRequested = true;
      if (streamId) requestStop();
    },
  };
}

export function formatStats(s) {
  if (!s) return "";
  const parts = [];
  if (s.completion_tokens != null) parts.push(`${s.completion_tokens} tokens`);
  if (s.ttft_s != null) parts.push(`TTFT ${(s.ttft_s * 1000).toFixed(0)} ms`);
  if (s.output_tps) parts.push(`${s.output_tps.toFixed(1)} tok/s`);
  if (s.finish_reason) parts.push(s.finish_reason === "stopped" ? "stopped" : `finish: ${s.finish_reason}`);
  return parts.join(" · ");
}

// Tiny DOM builder: text always goes in as textContent, never as HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else if (k === "style") node.style.cssText = v;   // CSSOM: allowed by the page's CSP
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function showError(container, err) {
  const box = el("div", { class: "error", role: "alert" }, err.message || String(err));
  if (err.hint) box.append(el("div", { class: "hint" }, err.hint));
  container.append(box);
  return box;
}

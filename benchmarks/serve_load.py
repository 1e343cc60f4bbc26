"""Load test: `bakeoff serve` (continuous batching) vs `python -m llama_cpp.server`, same model/threads.

Each concurrency level runs C clients that each send R greedy requests of up to 128 tokens with
distinct prompts (no shared prefix to reuse), from one of three workloads (--workloads):
- count: /v1/completions continuing a count (every request generates all 128 tokens);
- story: chat requests for short stories (prompt lookup has little to copy);
- rewrite: chat requests to rewrite a paragraph given in the prompt (the answer copies most of it,
  where prompt lookup pays).
Bakeoff runs twice, with prompt lookup (--speculative) and with --no-speculative ("bakeoff plain"),
and the script checks that both gave the same greedy answer to every request. Prints aggregate
tokens/s (completion tokens / wall time), p50/p95 request latency and errors per server, plus the
in-process engine at 1 client, and the ratios. Everything runs in this one script, so the ratios
share the machine's conditions.

    .venv/bin/python benchmarks/serve_load.py [--threads 2] [--levels 1,4,8] [--rounds 2]
        [--workloads count,story,rewrite] [--llama-server BIN]

--llama-server takes the path of llama.cpp's own C++ `llama-server` (built from the llama.cpp sources
that llama-cpp-python vendors, see llamacpp_scorer_compare.py) and adds it as a third contender with
the same model, threads, context and slots, so the absolute targets can be read against what
llama.cpp itself reaches on this machine with this client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers import free_port  # noqa: E402  (one loopback free-port helper for tests and benchmarks)

MAX_TOKENS = 128
SUBJECTS = ["a robot who learns to paint", "a lighthouse keeper in a storm", "a dragon afraid of heights",
            "two friends lost in a desert", "a cat that runs a bakery", "the last tree in a city",
            "a violin found in an attic", "a boy who talks to the moon", "a clock that runs backwards"]
PLACES = ["the harbour", "the old library", "the mountain station", "the night market", "the research lab"]


def prompt(i: int) -> str:
    # Counting runs on for well over 128 tokens, so every request generates all of them.
    return f"Request {i}. Count: " + ", ".join(str(i * 1000 + k) for k in range(6)) + ","


def story(i: int) -> str:
    return f"Write a short story about {SUBJECTS[i % len(SUBJECTS)]}, number {i}."


def rewrite(i: int) -> str:
    """A paragraph to copy with one change: the answer repeats most of the prompt."""
    place = PLACES[i % len(PLACES)]
    text = (f"On day {i} the team met at {place} at nine o'clock. They reviewed {i % 7 + 2} reports, "
            f"fixed the heating in room {100 + i % 50}, and ordered new chairs for the meeting hall. "
            f"After lunch they walk to {place} again and write a short summary for the director, who "
            f"reads it the next morning and asks for {i % 5 + 1} more copies.")
    return f"Rewrite the following text in the past tense and change nothing else:\n\n{text}"


# workload -> (endpoint, request body for prompt i)
WORKLOADS = {
    "count": ("/v1/completions", lambda i: {"prompt": prompt(i)}),
    "story": ("/v1/chat/completions", lambda i: {"messages": [{"role": "user", "content": story(i)}]}),
    "rewrite": ("/v1/chat/completions", lambda i: {"messages": [{"role": "user", "content": rewrite(i)}]}),
}


def start(cmd: list[str], url: str, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


def answer_text(data: dict) -> str:
    choice = data["choices"][0]
    return choice["message"]["content"] if "message" in choice else choice["text"]


def one_request(url: str, model: str, i: int, workload: str) -> tuple[float, int, str | None]:
    """Latency, completion tokens and the answer (None: the request failed)."""
    endpoint, body = WORKLOADS[workload]
    t0 = time.perf_counter()
    try:
        r = httpx.post(url + endpoint, json={"model": model, "max_tokens": MAX_TOKENS, "temperature": 0,
                                             **body(i)}, timeout=600)
        data = r.json() if r.status_code == 200 else None
    except httpx.HTTPError:
        data = None
    dt = time.perf_counter() - t0
    return dt, data["usage"]["completion_tokens"] if data else 0, answer_text(data) if data else None


def drive(url: str, model: str, clients: int, per_client: int, offset: int, workload: str = "count") -> dict:
    """C clients, each sending its requests back to back; returns aggregate numbers and answers."""
    lat: list[float] = []
    tokens, errors = 0, 0
    answers: dict[int, str | None] = {}
    lock = threading.Lock()

    def client(c: int) -> None:
        nonlocal tokens, errors
        for k in range(per_client):
            i = offset + c * per_client + k
            dt, n, text = one_request(url, model, i, workload)
            with lock:
                lat.append(dt)
                tokens += n
                errors += text is None
                answers[i] = text

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    return {"tps": tokens / wall, "lat": lat, "errors": errors, "n": len(lat), "tokens": tokens,
            "answers": answers}


class InProcess:
    """The engine itself, no HTTP: the 1-client baseline, run interleaved with the server's rounds."""

    def __init__(self, path: str, threads: int):
        from bakeoff.engines import LoadOptions, open_engine
        from bakeoff.models.ref import ModelRef

        self.eng = open_engine(ModelRef(name="smol", engine="llamacpp", source="bench", path=path),
                               LoadOptions(n_ctx=4096, threads=threads))

    def drive(self, i: int, workload: str) -> dict:
        from bakeoff.engines.base import GenParams, Message, collect

        params = GenParams(max_tokens=MAX_TOKENS, temperature=0)
        body = WORKLOADS[workload][1](i)
        t0 = time.perf_counter()
        if "prompt" in body:
            resp = collect(self.eng.complete(body["prompt"], params))
        else:
            resp = collect(self.eng.chat([Message(**m) for m in body["messages"]], params))
        dt = time.perf_counter() - t0
        return {"tps": resp.usage.completion_tokens / dt, "lat": [dt], "errors": 0, "n": 1,
                "tokens": resp.usage.completion_tokens, "answers": {i: resp.text}}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def summary(runs: list[dict]) -> dict:
    tps = [r["tps"] for r in runs]
    lat = [x for r in runs for x in r["lat"]]
    se = statistics.stdev(tps) / len(tps) ** 0.5 if len(tps) > 1 else float("nan")
    return {"tps": statistics.mean(tps), "se": se, "p50": pct(lat, 0.5), "p95": pct(lat, 0.95),
            "errors": sum(r["errors"] for r in runs), "n": sum(r["n"] for r in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levels", default="1,4,8")
    ap.add_argument("--rounds", type=int, default=2, help="repeats per level (mean +- stderr)")
    ap.add_argument("--per-client", type=int, default=2, help="requests per client per round")
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--workloads", default="count,story,rewrite", help=f"of {','.join(WORKLOADS)}")
    ap.add_argument("--llama-server", default=None, help="path of llama.cpp's llama-server binary")
    args = ap.parse_args()
    from bakeoff.models.packaged import smollm2_path

    path = str(smollm2_path())
    levels = [int(x) for x in args.levels.split(",")]
    env = {**os.environ, "BAKEOFF_THREADS": str(args.threads)}
    bin_dir = os.path.dirname(sys.executable)
    urls: dict[str, str] = {}
    procs = []
    for name, extra in (("bakeoff", ["--speculative"]), ("bakeoff plain", ["--no-speculative"])):
        urls[name] = f"http://127.0.0.1:{free_port()}"
        procs.append(start([os.path.join(bin_dir, "bakeoff"), "serve", "--port", urls[name].rsplit(":", 1)[1],
                            "--models", "smollm2-135m", "--slots", str(args.slots), "--ctx", "4096",
                            "--threads", str(args.threads), *extra], urls[name], env))
    urls["llama-cpp-python"] = f"http://127.0.0.1:{free_port()}"
    procs.append(start([sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", "smollm2-135m",
                        "--port", urls["llama-cpp-python"].rsplit(":", 1)[1], "--host", "127.0.0.1",
                        "--n_ctx", "4096", "--n_threads", str(args.threads), "--n_threads_batch",
                        str(args.threads), "--verbose", "False"], urls["llama-cpp-python"], env))
    if args.llama_server:
        cpp_url = f"http://127.0.0.1:{free_port()}"
        from llamacpp_scorer_compare import llamacpp_env  # beside this script

        cpp_env = {**llamacpp_env(Path(args.llama_server).resolve().parent), "BAKEOFF_THREADS": str(args.threads)}
        # -c is the whole cache, split among the -np slots: 4096 positions each, the same layout
        # bakeoff serve picks for this model (one stream per slot, see server/pool.py).
        procs.append(start([args.llama_server, "-m", path, "-a", "smollm2-135m", "--host", "127.0.0.1",
                            "--port", cpp_url.rsplit(":", 1)[1], "-c", str(4096 * args.slots),
                            "-np", str(args.slots), "-t", str(args.threads), "--log-disable"], cpp_url, cpp_env))
        urls["llama.cpp server"] = cpp_url
    engine = InProcess(path, args.threads)
    try:
        for workload in args.workloads.split(","):
            report(run_levels(levels, args, urls, engine, workload), args, workload)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        engine.eng.close()


def run_levels(levels: list[int], args: argparse.Namespace, urls: dict[str, str], engine: InProcess,
               workload: str) -> dict:
    """Rounds alternate the order of the contenders, and ratios are taken per round, so load from
    other processes on a shared machine hits both sides of each ratio alike. Within a round every
    contender gets the same prompts, so bakeoff's answers with and without lookup can be compared."""
    for url in urls.values():
        drive(url, "smollm2-135m", 1, 1, 99_000, workload)  # warm-up (model load), not counted
    results: dict = {}
    offset = 0
    for c in levels:
        names = list(urls) + (["in-process engine"] if c == 1 else [])
        runs: dict[str, list[dict]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                run = engine.drive(offset, workload) if name not in urls else \
                    drive(urls[name], "smollm2-135m", c, args.per_client, offset, workload)
                runs[name].append(run)
                print(f"  {workload} round {r + 1} {name:17s} c={c}: {run['tps']:.1f} tok/s", flush=True)
            offset += c * args.per_client
        for name in names:
            results[(name, c)] = summary(runs[name])
        results[("ratios", c)] = {n: [a["tps"] / max(b["tps"], 1e-9) for a, b in zip(runs["bakeoff"], runs[n])]
                                  for n in names if n != "bakeoff"}
        results[("same", c)] = same_answers(runs["bakeoff"], runs["bakeoff plain"])
    return results


def same_answers(a: list[dict], b: list[dict]) -> tuple[int, int]:
    """(requests whose greedy answers were identical, requests both answered)."""
    pairs = [(x["answers"][i], y["answers"].get(i)) for x, y in zip(a, b) for i in x["answers"]]
    pairs = [(p, q) for p, q in pairs if p is not None and q is not None]
    return sum(p == q for p, q in pairs), len(pairs)


def report(results: dict, args: argparse.Namespace, workload: str) -> None:
    print(f"\n[{workload}] SmolLM2-135M Q4_1, {args.threads} threads, {MAX_TOKENS}-token greedy requests, "
          f"{args.rounds} rounds per level, {args.per_client} request(s) per client per round, slots={args.slots}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'contender':17s} {'clients':>7s} {'tok/s (mean+-se)':>18s} {'p50 s':>7s} {'p95 s':>7s} "
          f"{'errors':>6s} {'n':>4s}")
    for (name, c), s in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if name not in ("ratios", "same"):
            print(f"{name:17s} {c:7d} {s['tps']:10.1f} +- {s['se']:5.1f} {s['p50']:7.2f} {s['p95']:7.2f} "
                  f"{s['errors']:6d} {s['n']:4d}")
    print(f"\n[{workload}] ratios of bakeoff's tok/s (prompt lookup on), paired per round (median [min, max]):")
    targets = {("in-process engine", 1): " (target >= 0.95)", ("llama-cpp-python", 8): " (target >= 3)",
               ("bakeoff plain", 8): " (target >= 1.2 on rewrite)" if workload == "rewrite" else "",
               ("llama.cpp server", 8): " (target >= 1.0 on story)" if workload == "story" else ""}
    for (name, c), ratios in sorted(results.items(), key=lambda kv: kv[0][1]):
        if name != "ratios":
            continue
        for other, rs in ratios.items():
            print(f"  c={c} bakeoff / {other}: {statistics.median(rs):.2f} [{min(rs):.2f}, {max(rs):.2f}]"
                  f"{targets.get((other, c), '')}")
        same, n = results[("same", c)]
        print(f"  c={c} identical greedy answers with lookup on and off: {same}/{n}"
              + ("" if same == n else "  <-- MISMATCH"))


if __name__ == "__main__":
    main()

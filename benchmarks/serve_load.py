"""Load test: `bakeoff serve` (continuous batching) vs `python -m llama_cpp.server`, same model/threads.

Each concurrency level runs C clients that each send R greedy 128-token /v1/completions requests with
distinct prompts (no shared prefix to reuse). Prints aggregate tokens/s (completion tokens / wall
time), p50/p95 request latency and errors for both servers, plus the in-process engine at 1 client,
and the ratios. Everything runs in this one script, so the ratios share the machine's conditions.

    .venv/bin/python benchmarks/serve_load.py [--threads 2] [--levels 1,4,8] [--rounds 2] [--llama-server BIN]

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


def prompt(i: int) -> str:
    # Counting runs on for well over 128 tokens, so every request generates all of them.
    return f"Request {i}. Count: " + ", ".join(str(i * 1000 + k) for k in range(6)) + ","


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


def one_request(url: str, model: str, i: int) -> tuple[float, int, bool]:
    body = {"model": model, "prompt": prompt(i), "max_tokens": MAX_TOKENS, "temperature": 0}
    t0 = time.perf_counter()
    try:
        r = httpx.post(url + "/v1/completions", json=body, timeout=600)
        ok = r.status_code == 200
        n = r.json()["usage"]["completion_tokens"] if ok else 0
    except httpx.HTTPError:
        ok, n = False, 0
    return time.perf_counter() - t0, n, ok


def drive(url: str, model: str, clients: int, per_client: int, offset: int) -> dict:
    """C clients, each sending its requests back to back; returns aggregate numbers."""
    lat: list[float] = []
    tokens, errors = 0, 0
    lock = threading.Lock()

    def client(c: int) -> None:
        nonlocal tokens, errors
        for k in range(per_client):
            dt, n, ok = one_request(url, model, offset + c * per_client + k)
            with lock:
                lat.append(dt)
                tokens += n
                errors += 0 if ok else 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    return {"tps": tokens / wall, "lat": lat, "errors": errors, "n": len(lat), "tokens": tokens}


class InProcess:
    """The engine itself, no HTTP: the 1-client baseline, run interleaved with the server's rounds."""

    def __init__(self, path: str, threads: int):
        from bakeoff.engines import LoadOptions, open_engine
        from bakeoff.models.ref import ModelRef

        self.eng = open_engine(ModelRef(name="smol", engine="llamacpp", source="bench", path=path),
                               LoadOptions(n_ctx=4096, threads=threads))

    def drive(self, i: int) -> dict:
        from bakeoff.engines.base import GenParams, collect

        t0 = time.perf_counter()
        resp = collect(self.eng.complete(prompt(i), GenParams(max_tokens=MAX_TOKENS, temperature=0)))
        dt = time.perf_counter() - t0
        return {"tps": resp.usage.completion_tokens / dt, "lat": [dt], "errors": 0, "n": 1,
                "tokens": resp.usage.completion_tokens}


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
    ap.add_argument("--llama-server", default=None, help="path of llama.cpp's llama-server binary")
    args = ap.parse_args()
    from bakeoff.models.packaged import smollm2_path

    path = str(smollm2_path())
    levels = [int(x) for x in args.levels.split(",")]
    env = {**os.environ, "BAKEOFF_THREADS": str(args.threads)}
    bin_dir = os.path.dirname(sys.executable)
    ours_url, base_url = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    ours = start([os.path.join(bin_dir, "bakeoff"), "serve", "--port", ours_url.rsplit(":", 1)[1],
                  "--models", "smollm2-135m", "--slots", str(args.slots), "--ctx", "4096",
                  "--threads", str(args.threads)], ours_url, env)
    base = start([sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", "smollm2-135m",
                  "--port", base_url.rsplit(":", 1)[1], "--host", "127.0.0.1", "--n_ctx", "4096",
                  "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads),
                  "--verbose", "False"], base_url, env)
    urls = {"bakeoff": ours_url, "llama-cpp-python": base_url}
    procs = [ours, base]
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
        results = run_levels(levels, args, urls, engine)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        engine.eng.close()
    report(results, args)


def run_levels(levels: list[int], args: argparse.Namespace, urls: dict[str, str], engine: InProcess) -> dict:
    """Rounds alternate the order of the contenders, and ratios are taken per round, so load from
    other processes on a shared machine hits both sides of each ratio alike."""
    for url in urls.values():
        drive(url, "smollm2-135m", 1, 1, 99_000)  # warm-up (model load), not counted
    results: dict = {}
    offset = 0
    for c in levels:
        names = list(urls) + (["in-process engine"] if c == 1 else [])
        runs: dict[str, list[dict]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                offset += c * args.per_client
                run = engine.drive(offset) if name not in urls else \
                    drive(urls[name], "smollm2-135m", c, args.per_client, offset)
                runs[name].append(run)
                print(f"  round {r + 1} {name:17s} c={c}: {run['tps']:.1f} tok/s", flush=True)
        for name in names:
            results[(name, c)] = summary(runs[name])
        results[("ratios", c)] = {n: [a["tps"] / max(b["tps"], 1e-9) for a, b in zip(runs["bakeoff"], runs[n])]
                                  for n in names if n != "bakeoff"}
    return results


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"\nSmolLM2-135M Q4_1, {args.threads} threads, {MAX_TOKENS}-token greedy completions, "
          f"{args.rounds} rounds per level, {args.per_client} request(s) per client per round, slots={args.slots}")
    print(f"{'contender':17s} {'clients':>7s} {'tok/s (mean+-se)':>18s} {'p50 s':>7s} {'p95 s':>7s} "
          f"{'errors':>6s} {'n':>4s}")
    for (name, c), s in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if name != "ratios":
            print(f"{name:17s} {c:7d} {s['tps']:10.1f} +- {s['se']:5.1f} {s['p50']:7.2f} {s['p95']:7.2f} "
                  f"{s['errors']:6d} {s['n']:4d}")
    print("\nratios of bakeoff's tok/s, paired per round (median [min, max]):")
    for (name, c), ratios in sorted(results.items(), key=lambda kv: kv[0][1]):
        if name != "ratios":
            continue
        for other, rs in ratios.items():
            target = {("in-process engine", 1): " (target >= 0.95)", ("llama-cpp-python", 8): " (target >= 3)"}
            print(f"  c={c} bakeoff / {other}: {statistics.median(rs):.2f} [{min(rs):.2f}, {max(rs):.2f}]"
                  f"{target.get((other, c), '')}")
    if ("bakeoff", 8) in results:
        print(f"  c=8 bakeoff aggregate: {results[('bakeoff', 8)]['tps']:.0f} tok/s (target >= 250)")


if __name__ == "__main__":
    main()

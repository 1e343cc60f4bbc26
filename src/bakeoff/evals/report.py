"""Report files for a stored run: a self-contained HTML page (inline CSS and SVG, works offline),
a JSON export (the whole run plus the leaderboard) and a CSV export (one row per model x case)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..settings import get_settings
from .charts import Point, scatter
from .columns import benchmark_columns, row_text, speculated
from .compare import pair_matrix, ranking_note
from .costs import format_break_even, prices_note, reference_prices
from .stats import BOOTSTRAP_RESAMPLES, PairedComparison


def report_dir(run_id: int) -> Path:
    folder = get_settings().home / "reports" / f"run-{run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chart_points(rows: list[dict[str, Any]], kind: str) -> list[Point]:
    points = []
    for r in rows:
        pr = r["pass_rate"]
        if kind == "cost" and r["cost"].get("blended"):
            b = r["cost"]["blended"]
            points.append(Point(r["model"], b["median"], b["low"], b["high"], pr["value"], pr["se"]))
        elif kind == "speed" and r["output_tps"]:
            s = r["output_tps"]
            points.append(Point(r["model"], s["median"], s["p5"], s["p95"], pr["value"], pr["se"]))
    return points


def matrix(run: dict[str, Any], models: list[str]) -> list[dict[str, Any]]:
    """One row per case, one cell per model (in leaderboard order)."""
    cells: dict[str, dict[str, Any]] = {}
    order: dict[str, int] = {}
    for r in run["results"]:
        cells.setdefault(r["case_id"], {})[r["model"]] = r
        order.setdefault(r["case_id"], r["position"])
    rows = []
    for case_id in sorted(cells, key=lambda c: order[c]):
        by_model = cells[case_id]
        first = next(iter(by_model.values()))
        prompt = first["prompt"][-1]["content"] if first["prompt"] else ""
        rows.append({"case_id": case_id, "prompt": prompt,
                     "cells": [by_model.get(m) for m in models]})
    return rows


def charts(rows: list[dict[str, Any]], prices: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """The report's two SVG charts, {"cost": svg, "speed": svg}: the HTML report and the web UI's
    leaderboard both draw these, so they always show the same picture."""
    prices = reference_prices() if prices is None else prices
    refs = [(f"{p['model']} ${p['blended']:.2f}", p["blended"]) for p in prices]
    return {"cost": scatter(chart_points(rows, "cost"), "Quality vs cost (dashed: hosted API prices)",
                            "USD per 1M tokens, blended 3:1 (median, P5–P95)", "chart-cost", refs),
            "speed": scatter(chart_points(rows, "speed"), "Quality vs speed",
                             "output tokens/s (median, P5–P95)", "chart-speed")}


@dataclass(frozen=True)
class Panel:
    """A figure shown beside the leaderboard (e.g. a tune's training loss), with its caption."""

    title: str
    svg: str
    caption: str


def ranks_of(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {r["model"]: r["rank"] for r in rows if r.get("rank") is not None}


@dataclass(frozen=True)
class Figure:
    """A line figure stored with a run (store.evals.save_figure), drawn whenever the report is
    rendered: `bakeoff report N` shows what the run that made it showed."""

    key: str                 # one per run: a rewrite replaces it; also the SVG's id
    title: str
    values: list[float]
    x_label: str
    y_label: str
    caption: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def panel(self) -> Panel:
        from .charts import line_chart

        svg = line_chart(self.values, self.title, self.x_label, self.y_label, f"chart-{self.key}")
        return Panel(self.title, svg, self.caption)


def stored_panels(run: dict[str, Any]) -> list[Panel]:
    """The run's stored figures, drawn; a stored figure this version cannot read is skipped."""
    out = []
    for fig in run.get("figures") or []:
        try:
            out.append(Figure(**fig).panel())
        except TypeError:
            continue
    return out


def render_html(run: dict[str, Any], rows: list[dict[str, Any]],
                pairs: list[PairedComparison], panels: list[Panel] | None = None,
                notes: list[str] | None = None) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string((resources.files("bakeoff.evals") / "data" / "report.html.j2").read_text())
    models = [r["model"] for r in rows]
    prices = reference_prices()
    svg = charts(rows, prices)
    benchmarks = benchmark_columns(rows)
    shown = [{**r, "text": row_text(r, (t for t, _ in benchmarks))} for r in rows]
    return template.render(run=run, rows=shown, benchmarks=benchmarks, models=models,
                           tool_calls=any(r.get("tool_calls") for r in rows), drafts=speculated(rows),
                           matrix=matrix(run, models), prices=prices, prices_note=prices_note(prices),
                           cost_chart=svg["cost"], speed_chart=svg["speed"],
                           pairs=pair_matrix(models, pairs, ranks_of(rows)), ranking=ranking_note(pairs),
                           break_even=[{"model": r["model"], "basis": r["cost_basis"],
                                        "text": format_break_even(r["break_even"])}
                                       for r in rows if r["break_even"]],
                           resamples=BOOTSTRAP_RESAMPLES, panels=stored_panels(run) + (panels or []),
                           notes=notes or [])


CSV_COLUMNS = ["run", "model", "case_id", "status", "score", "pass_score", "reason", "output",
               "prompt_tokens", "completion_tokens", "total_s", "cost_usd", "cached"]


def sheet_text(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (a model's output "=HYPERLINK(...)", a model
    named "@SUM(...)") is prefixed with an apostrophe, as OWASP advises: shown as text, not run."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render_csv(run: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for r in run["results"]:
        writer.writerow({"run": run["id"], "model": sheet_text(r["model"]), "case_id": sheet_text(r["case_id"]),
                         "status": r["status"], "score": f"{r['score']:.4f}",
                         "pass_score": f"{r['pass_score']:.4f}", "reason": sheet_text(r["reason"]),
                         "output": sheet_text(r["output"]), "prompt_tokens": r["usage"].get("prompt_tokens"),
                         "completion_tokens": r["usage"].get("completion_tokens"),
                         "total_s": f"{r['timings'].get('total_s', 0):.4f}",
                         "cost_usd": f"{r['cost_usd']:.3e}", "cached": r["cached"]})
    return buf.getvalue()


def write_reports(run: dict[str, Any], rows: list[dict[str, Any]], pairs: list[PairedComparison],
                  panels: list[Panel] | None = None, notes: list[str] | None = None) -> dict[str, Path]:
    """report.html, results.json, results.csv; `notes` are lines shown under the leaderboard (the
    speed model's predictions beside this run's measurements)."""
    folder = report_dir(run["id"])
    paths = {"html": folder / "report.html", "json": folder / "results.json",
             "csv": folder / "results.csv"}
    paths["html"].write_text(render_html(run, rows, pairs, panels, notes), encoding="utf-8")
    paths["json"].write_text(json.dumps({"run": run, "leaderboard": rows,
                                         "comparisons": [p.to_dict() for p in pairs],
                                         "ranking": ranking_note(pairs),
                                         "reference_prices": reference_prices()},
                                        indent=1, default=str), encoding="utf-8")
    paths["csv"].write_text(render_csv(run), encoding="utf-8")
    return paths

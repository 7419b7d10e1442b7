"""Build ``report.html``, ``summary.md`` and ``summary.json`` from a run folder, and nothing else."""

from __future__ import annotations

import base64
import html
import importlib
from pathlib import Path
from typing import Any

from benchmark.experiments import all_experiments
from benchmark.render import plots
from benchmark.render.tables import Section, run_section, sections
from benchmark.report import compare_rows, compare_sections
from benchmark.report.summary import summarise_run
from benchmark.rundir import load_manifest, write_atomic, write_json

PLOTS = [
    ("capacity_curve.png", "Latency against offered load, both chains"),
    ("throughput.png", "Throughput against users"),
    ("latency.png", "Latency percentiles against users"),
    ("timeit.png", "timeit: n sequential calls"),
    ("breakdown.png", "Profiling: where one request's time goes"),
    ("capacity.png", "Capacity at the p99 bound, per variant"),
    ("split.png", "Where one request's time goes, per variant"),
    ("sweep.png", "Worker sweep"),
    ("frontier.png", "Batching frontier"),
    ("goodput.png", "Goodput past capacity, per overload policy"),
    ("pareto.png", "Candidates: capacity against memory"),
    ("waterfall.png", "Where the CPU goes, layer by layer"),
]
CSS = (
    "body{font-family:sans-serif;max-width:1050px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
    ".warn{color:#b00;font-weight:bold}img{max-width:100%}"
    ".verdict{font-size:17px;line-height:1.5;background:#f4f6f8;border-left:4px solid #456;padding:.6em 1em}"
    "details{margin:1em 0}summary{cursor:pointer;font-weight:bold;font-size:18px}"
)
TITLE = "ML serving lab: sync (Flask) vs async (FastAPI)"
# Runs whose report is their own module's: its ``summarise(run)``, ``sections(summary)`` and ``plots(summary)``
# (imported when such a run is built: goodput's and the advisor's pull in what only they need).
OWN_REPORTS = {
    "goodput": "benchmark.goodput",
    "endpoint": "benchmark.endpoint",
    "advise": "benchmark.advise.report",
    "parity": "benchmark.parity",
    "ablation": "benchmark.ablation",
    "costmodel": "benchmark.costcheck",
}


def make_plots(summary: dict[str, Any], run: Path) -> dict[str, bytes]:
    images = {}
    if summary.get("kind") in OWN_REPORTS:  # written beside the report too, as summary.md links them
        images = importlib.import_module(OWN_REPORTS[summary["kind"]]).plots(summary)
    elif summary.get("kind") == "compare":
        measured = [r for r in summary["variants"] if "skipped" not in r]
        if any(r.get("capacity_qps") is not None for r in measured):
            images["capacity.png"] = plots.capacity(measured)
        if any(r.get("split_ms") for r in measured):
            images["split.png"] = plots.split(measured)
        if summary.get("sweep"):
            name = summary["options"]["sweep"]["variant"]
            if compare_rows.sweep_axes(summary) == ["workers"]:
                images["sweep.png"] = plots.sweep(summary["sweep"], name)
            else:
                twin = next((r["vs_unbatched"]["name"] for r in summary["sweep"] if r.get("vs_unbatched")), None)
                base = next((r for r in measured if r["name"] == twin), None)
                images["frontier.png"] = plots.frontier(summary["sweep"], name, base)
    else:
        for exp in all_experiments():
            images |= exp.plots(summary)
    for name, data in images.items():
        write_atomic(run / "plots" / name, data)
    return images


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(x) for x in row) + " |" for row in rows])


def _img(name: str, data: bytes) -> str:
    return f"<img alt='{html.escape(name)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>"


def _lines(text: str) -> str:
    return "<br>".join(html.escape(line).replace("  ", "&nbsp;&nbsp;") for line in text.splitlines())


def render_html(
    manifest: dict, parts: list[Section], images: dict[str, bytes], links: list[str], title: str = TITLE
) -> str:
    title = html.escape(title)
    out = [f"<!doctype html><meta charset='utf-8'><title>{title}</title><style>{CSS}</style><h1>{title}</h1>"]
    if not manifest.get("complete"):
        reason = html.escape(str(manifest.get("incomplete_reason", "interrupted")))
        out.append(f"<p class='warn'>INCOMPLETE RUN: {reason}. The figures below are what it measured.</p>")
    placed = {s.image for s in parts if s.image}
    for s in parts:
        body = []
        if s.text:
            body.append(f"<p class='verdict'>{_lines(s.text)}</p>" if s.verdict else f"<p>{html.escape(s.text)}</p>")
        if s.rows:
            body.append(_html_table(s.header, s.rows))
        body += [f"<p class='warn'>{html.escape(w)}</p>" for w in s.warnings]
        if s.image in images:
            body.append(_img(s.image, images[s.image]))
        title = html.escape(s.title)
        if s.fold:
            out.append(f"<details><summary>{title}</summary>{''.join(body)}</details>")
        else:
            out += [f"<h2>{title}</h2>", *body]
    for name, caption in PLOTS:
        if name in images and name not in placed:
            out.append(f"<h2>{caption}</h2>{_img(name, images[name])}")
    if links:
        items = "".join(f"<li><a href='{html.escape(x)}'>{html.escape(x)}</a></li>" for x in links)
        out.append(f"<h2>Locust's own reports</h2><ul>{items}</ul>")
    return "\n".join(out) + "\n"


def render_markdown(manifest: dict, parts: list[Section], images: dict[str, bytes], title: str = TITLE) -> str:
    out = [f"# {title}", ""]
    if not manifest.get("complete"):
        out += [f"**INCOMPLETE RUN**: {manifest.get('incomplete_reason', 'interrupted')}", ""]
    for s in parts:
        out += [f"## {s.title}", ""]
        if s.text:
            out += ["```", s.text, "```", ""] if s.verdict else [s.text, ""]
        if s.rows:
            out += [_md_table(s.header, s.rows), ""]
        out += [f"- **{w}**" for w in s.warnings] + ([""] if s.warnings else [])
        if s.image in images:
            out += [f"![{s.title}](plots/{s.image})", ""]
    placed = {s.image for s in parts if s.image}
    for name, caption in PLOTS:
        if name in images and name not in placed:
            out += [f"## {caption}", "", f"![{caption}](plots/{name})", ""]
    return "\n".join(out)


def build(run: Path) -> Path:
    """Rebuild the report of ``run`` from its files; returns the path of ``report.html``."""
    manifest = load_manifest(run)
    kind = manifest.get("options", {}).get("kind")
    title = TITLE
    if kind == "compare":
        summary = compare_rows.summarise_compare(run)
        parts = [*compare_sections.sections(summary), run_section(manifest)]
    elif kind in OWN_REPORTS:
        own = importlib.import_module(OWN_REPORTS[kind])
        summary = own.summarise(run)
        parts = [*own.sections(summary), run_section(manifest)]
        title = getattr(own, "title", lambda s: TITLE)(summary)  # a report of its own may name itself
    else:
        summary = summarise_run(run)
        parts = sections(summary, manifest, [s for exp in all_experiments() for s in exp.sections(summary)])
    images = make_plots(summary, run)
    links = (
        sorted(str(p.relative_to(run)) for p in (run / "locust").glob("*.html")) if (run / "locust").exists() else []
    )
    write_json(run / "summary.json", summary)
    write_atomic(run / "summary.md", render_markdown(manifest, parts, images, title))
    write_atomic(run / "report.html", render_html(manifest, parts, images, links, title))
    return run / "report.html"

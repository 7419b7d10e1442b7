"""The report's tables and texts, built once and rendered both as HTML and as Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from api_common.contract import CHAINS
from benchmark.loadgen import history, stats


@dataclass
class Section:
    title: str
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fold: bool = False  # long step-by-step detail: folded under its title in the HTML
    verdict: bool = False  # the answer: text shown as set lines, first on the page
    image: str | None = None  # a plot shown right after this section


def num(v: Any, fmt: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


def _triple(c: dict, prefix: str) -> str:
    return " / ".join(num(c.get(f"{prefix}_{q}_ms")) for q in ("p50", "p95", "p99"))


def _users(c: dict) -> str:
    return "-" if c.get("breaking_users") is None else str(c["breaking_users"])


def _cpu_ms(c: dict) -> str:
    return num((c.get("cpu_s_per_request") or math.nan) * 1000, ".2f")


def _max_rps(c: dict) -> str:
    if c.get("max_over_bound_ms"):
        return f"{num(c.get('max_rps'))} (overload: p99 over {c['max_over_bound_ms']:.0f} ms)"
    return num(c.get("max_rps"))


def _capacity(c: dict) -> str:
    return c.get("capacity_text") or num(c.get("capacity_qps"), ".0f")


DECISION_RULE = (
    f"a capacity ratio is called higher or lower only when its {stats.DECISION_LEVEL:.0%} interval, both sides "
    f"resampled from the same rounds, lies wholly beyond {stats.FACTOR:g}x either way (asv's factor), equivalent when "
    f"it lies wholly within {1 / stats.FACTOR:.2f}-{stats.FACTOR:g}x (two one-sided tests), and unresolved otherwise "
    "(more rounds would tell)"
)


def verdict_of(r: dict) -> str:
    """A ratio's verdict (``stats.VERDICTS``); for a ratio saved before verdicts, or with asv's earlier "same",
    decided again from its 95% interval."""
    verdict = r.get("verdict")
    if verdict in stats.VERDICTS:
        return verdict
    interval = (r["low"], r["high"]) if r.get("low") is not None else None
    return stats.decide(interval)


def ratio_text(r: dict | None, unit: str = "x") -> str:
    """``higher: 2.10x (1.90-2.40)``: the verdict (``stats.Decision``), the ratio and its paired 95% interval."""
    if not r or r.get("ratio") is None:  # no ratio: the advisor's screening gives loads, not a ratio
        return "-"
    if r.get("low") is None:
        return f"unresolved: {r['ratio']:.2f}{unit} (no interval)"
    return f"{verdict_of(r)}: {r['ratio']:.2f}{unit} ({r['low']:.2f}-{r['high']:.2f})"


def rounds_text(c: dict) -> str:
    """``rounds 45 / 47 / >=44, spread 2%``: a chain's figure in each round (``>=`` its highest load where its
    probes all passed, ``<=`` its lowest where they all failed), and the spread of those it found."""
    figures = c.get("capacity_rounds_found") or []
    if not figures:
        return ""
    spread = c.get("capacity_round_spread")
    tail = f", spread {spread:.0%}" if spread is not None else ""
    return "rounds " + " / ".join(f"{f['side']}{num(f['qps'], '.0f')}" for f in figures) + tail


def headline(summary: dict[str, Any]) -> list[str]:
    """The answer in a few lines: the ratio with its interval and verdict, each chain's capacity with its spread
    between rounds (this machine's state), the warnings, single-request latency."""
    chains = summary["chains"]
    lines = []
    if summary.get("probes"):
        ratio = summary.get("capacity_ratio") or {}
        rounds = f", {ratio['rounds']} interleaved rounds" if ratio.get("rounds") else ""
        lines.append(f"capacity at p99 <= {summary['capacity_bound_ms']:.0f} ms (LoadGen, open loop; 95% "
                     f"intervals{rounds}):")  # fmt: skip
        verdict = verdict_of(ratio) if ratio else "unresolved"
        why = {"higher": f"; its interval wholly above {stats.FACTOR:g}x", "lower": f"; its interval wholly below "
               f"{1 / stats.FACTOR:.2f}x", "equivalent": f"; its interval within {1 / stats.FACTOR:.2f}-"
               f"{stats.FACTOR:g}x", "unresolved": "; more rounds would tell"}[verdict]  # fmt: skip
        lines.append(f"  async / sync: {ratio_text(ratio or None)}{why}")
        when = summary.get("capacity_when")
        lines.append(f"  absolute figures, this machine's state{f' at {when}' if when else ''}:")
        for ch in CHAINS:
            c = chains.get(ch, {})
            spread = rounds_text(c)
            lines.append(f"  {ch:<6} {_capacity(c)}{f'; {spread}' if spread else ''}")
        lines += [f"  {w}" for w in summary.get("capacity_warnings", [])]
        earlier = summary.get("capacity_earlier") or {}
        if any(earlier.values()):  # a rerun's figure moves by more than one run's interval shows
            lines.append("earlier runs of the same code, settings and machine (how far a rerun moves):")
            lines += [f"  {ch:<6} {history.text(earlier.get(ch))}" for ch in CHAINS]
    if any(chains.get(ch, {}).get("single_p50_ms") for ch in CHAINS):
        lines.append("single request p50 / p99 (ms): " + ", ".join(
            f"{ch} {num(chains[ch].get('single_p50_ms'))} / {num(chains[ch].get('single_p99_ms'))}" for ch in CHAINS
        ))  # fmt: skip
    return lines


SUMMARY_ROWS = [
    ("single-user p50 / p95 / p99 (ms)", lambda c: _triple(c, "single")),
    ("breaking point: users", _users),
    ("breaking point: req/s", lambda c: num(c.get("breaking_rps"))),
    ("max sustained req/s", _max_rps),
    ("  at p50 / p95 / p99 (ms)", lambda c: _triple(c, "max")),
    ("  failures (%)", lambda c: num(c.get("max_failure_pct"), ".2f")),
    ("peak RSS of the chain (MiB)", lambda c: num(c.get("peak_rss_mb"), ".0f")),
    ("CPU per request (ms, all chain processes)", _cpu_ms),
    ("capacity at the p99 bound (QPS, LoadGen, 95% interval)", _capacity),
    ("  machine CPU stolen during its probes (%, median)", lambda c: num(c.get("capacity_steal_pct"), ".0f")),
    ("  machine speed during its probes (work unit ms, median)", lambda c: num(c.get("capacity_speed_ms"), ".2f")),
]


def summary_table(summary: dict[str, Any]) -> list[list[str]]:
    """The summary's rows, without those no experiment of this run measured."""
    chains = summary["chains"]
    rows = [[label, *(fn(chains.get(ch, {})) for ch in CHAINS)] for label, fn in SUMMARY_ROWS]
    return [r for r in rows if any(cell.strip("-/ ") for cell in r[1:])]


def _verdict(summary: dict) -> Section | None:
    lines = headline(summary)
    if not lines:
        return None
    image = "capacity_curve.png" if summary.get("probes") else None
    return Section("Verdict", "\n".join(lines), verdict=True, image=image)


def _summary(summary: dict) -> Section:
    why = " ".join(
        f"Breaking point, {ch}: {summary['chains'][ch]['breaking_reason']}."
        for ch in CHAINS
        if summary["chains"].get(ch, {}).get("breaking_reason")
    )
    notes = [f"{ch}: {n}" for ch in CHAINS for n in summary["chains"].get(ch, {}).get("notes", [])]
    if summary.get("capacity_departures"):
        why += (
            f" Capacity: the offered load (LoadGen, Poisson arrivals, open loop) at which p99 meets "
            f"{summary['capacity_bound_ms']:.0f} ms with no failed request. {summary['capacity_departures']}"
        )
    for ch in summary.get("remote", []):
        why += f" The {ch} chain was measured at a URL given by the user: no RSS or CPU figures, no server profiles."
    return Section("Summary per chain", why, ["figure", *CHAINS], summary_table(summary), notes)


def run_section(manifest: dict) -> Section:
    dirty = " (dirty)" if manifest.get("dirty") else ""
    rows = [
        ["commit", f"{manifest.get('commit')}{dirty}"],
        ["started / ended", f"{manifest.get('started')} / {manifest.get('ended')}"],
        ["complete", str(manifest.get("complete"))],
        [
            "machine",
            f"{manifest.get('cpu_count')} CPUs, {manifest.get('cpu_model')}, {manifest.get('memory_gib')} GiB",
        ],
        ["python", str(manifest.get("python"))],
        ["profile", str(manifest.get("options", {}).get("profile"))],
    ]
    return Section("Run", "Everything else (versions, every setting, options) is in manifest.json.", ["", ""], rows)


def sections(summary: dict[str, Any], manifest: dict[str, Any], experiment_sections: list[Section]) -> list[Section]:
    """The report's sections, in order: the verdict, the summary, each experiment's, the run."""
    found = [_verdict(summary), _summary(summary), *experiment_sections, run_section(manifest)]
    return [s for s in found if s is not None]

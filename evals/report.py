"""Renders evaluation scores as the committed markdown report and a bar chart of AC@1 per family."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from evals.scorer import Aggregate, Calibration, ScenarioScore, SegmentSetScore, aggregate_by_family, calibration_of

ENGINE = "engine"


class RunMeta(BaseModel):
    """Where and how a run happened, printed at the top of the report so numbers can be traced."""

    date: str
    commit: str
    title: str = "rca evaluation"
    size: str = ""
    engine_mode: str = "inproc"
    scenarios: int = 0
    wall_s: float = 0.0
    workers: int = 1
    notes: list[str] = Field(default_factory=list)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def _pct_n(value: float | None, n: int) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}% ({n})"


def _secs(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def system_order(systems: Sequence[str]) -> list[str]:
    """The engine first, then baselines in a stable order."""
    return sorted(set(systems), key=lambda s: (s != ENGINE, s))


def _row(agg: Aggregate) -> str:
    if agg.n == 0:
        return f"| {agg.system} | 0 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | {agg.errors} |"
    return (f"| {agg.system} | {agg.n} | {_pct(agg.ac[1])} | {_pct(agg.ac[3])} | {_pct(agg.avg3)} | "
            f"{_pct_n(agg.segment_acc, agg.n_segment)} | {_pct_n(agg.impact_within_10, agg.n_impact)} | "
            f"{_pct_n(agg.similar_at_3, agg.n_similar)} | {_secs(agg.latency_p50)} | "
            f"{_secs(agg.latency_p95)} | {agg.errors} |")


TABLE_HEAD = ("| system | n | AC@1 | AC@3 | Avg@3 | segment acc (n) | impact ±10% (n) | similar@3 (n) | "
              "latency p50 | latency p95 | errors |\n|---|---|---|---|---|---|---|---|---|---|---|")


def calibration_markdown(cal: Calibration) -> str:
    """The reliability table plus Brier score and ECE."""
    lines = [f"Top-1 `score` vs whether the top-1 root cause was right, over {cal.n} scenarios "
             f"(null family: the top-1 is never right). Brier {_num(cal.brier)}, ECE {_num(cal.ece)}.", "",
             "| score bin | n | mean score | observed accuracy |", "|---|---|---|---|"]
    for b in cal.bins:
        lines.append(f"| [{b.lo:.1f}, {b.hi:.1f}{']' if b.hi >= 1 else ')'} | {b.count} | "
                     f"{_num(b.mean_score)} | {_num(b.accuracy)} |")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_markdown(scores: Sequence[ScenarioScore], meta: RunMeta, *, title: str = "rca evaluation",
                    chart: str | None = "latest.png") -> str:
    """The whole report: run facts, overall and per-family tables, calibration and failures."""
    aggs = aggregate_by_family(scores)
    systems = system_order([s.system for s in scores])
    families = sorted({s.family for s in scores})
    out = [f"# {title}", "",
           f"- date: {meta.date}", f"- commit: `{meta.commit}`",
           f"- scenarios: {meta.scenarios} (size {meta.size or 'n/a'}), engine run {meta.engine_mode}, "
           f"{meta.workers} worker(s), wall time {meta.wall_s:.0f} s"]
    out += [f"- {note}" for note in meta.notes]
    out += ["", "AC@k: the truth's root cause among the first k. Null family: right when no root cause "
            "scores >= 0.5. Segment acc: the first segment equals the truth's. Impact ±10%: affected units "
            "within 10% of the truth. (n) = scenarios where the metric applies. Baselines do not score "
            "causes, so they never pass a null scenario; `gcm_only` only runs where a graph exists.", ""]
    if chart:
        out += [f"![AC@1 per family]({chart})", ""]
    out += ["## Overall", "", TABLE_HEAD]
    out += [_row(aggs[(s, "overall")]) for s in systems if (s, "overall") in aggs]
    for family in families:
        out += ["", f"## {family}", "", TABLE_HEAD]
        out += [_row(aggs[(s, family)]) for s in systems if (s, family) in aggs]
    engine_scores = [s for s in scores if s.system == ENGINE]
    if engine_scores:
        out += ["", "## Calibration (engine)", "", calibration_markdown(calibration_of(engine_scores))]
    oracle = [s for s in engine_scores if s.separable is not None]
    if oracle:
        out += ["", "## Separability (oracle)", "", separability_markdown(oracle)]
    failures = [s for s in scores if s.error]
    if failures:
        out += ["", "## Failures", "", "| system | scenario | error |", "|---|---|---|"]
        for s in failures:
            err = (s.error or "").replace("|", "\\|").replace("\n", " ")[:200]
            out.append(f"| {s.system} | {s.scenario} | {err} |")
    return "\n".join(out) + "\n"


def separability_markdown(scores: Sequence[ScenarioScore]) -> str:
    """Scenarios whose truth is a segment with a change to exactly that segment after the onset, split by whether
    the segment's rows before that change show the shift to an oracle that knows the onset (evals.separability)."""
    lines = ["A segment is the truth and a change to exactly that segment lands after the onset: only the rows "
             "between the two can tell them apart. Separable: an oracle that knows the onset sees the shift in "
             "those rows (exact count test against the same clock window on the 3 days before, p < 0.05).", "",
             "| | n | AC@1 | AC@3 | mean top-1 score |", "|---|---|---|---|---|"]
    for label, flag in (("separable", True), ("not separable", False)):
        group = [s for s in scores if s.separable is flag]
        if group:
            mean = sum(s.top1_score or 0.0 for s in group) / len(group)
            lines.append(f"| {label} | {len(group)} | {_pct(sum(s.ac1 for s in group) / len(group))} | "
                         f"{_pct(sum(s.ac3 for s in group) / len(group))} | {mean:.2f} |")
    lines += ["", "| scenario | separable | top-1 right | top-1 score | oracle |", "|---|---|---|---|---|"]
    for s in sorted(scores, key=lambda x: x.scenario):
        score = "n/a" if s.top1_score is None else f"{s.top1_score:.2f}"
        lines.append(f"| {s.scenario} | {'yes' if s.separable else 'no'} | {'yes' if s.ac1 else 'no'} | {score} | "
                     f"{s.separability or ''} |")
    return "\n".join(lines)


def write_chart(scores: Sequence[ScenarioScore], path: Path, *, title: str = "AC@1 per family") -> Path:
    """Grouped bars of AC@1 per family (and overall), one bar per system.

    A system that does not apply to a family gets no bar; a real 0 is marked with a "0" so the two differ.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    aggs = aggregate_by_family(scores)
    systems = system_order([s.system for s in scores])
    groups = [*sorted({s.family for s in scores}), "overall"]
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.95 * len(groups) + 2)), 4.5))
    for i, system in enumerate(systems):
        xs, ys = [], []
        for j, g in enumerate(groups):
            agg = aggs.get((system, g))
            if agg is not None and agg.n and agg.ac[1] is not None:
                xs.append(j + (i - (len(systems) - 1) / 2) * width)
                ys.append(agg.ac[1])
        bars = ax.bar(xs, ys, width=width, label=system)
        for x, y in zip(xs, ys, strict=True):
            if y == 0:
                ax.text(x, 0.01, "0", ha="center", va="bottom", fontsize=7, color=bars.patches[0].get_facecolor())
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30, ha="right")
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("AC@1")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=min(4, len(systems)), loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------------------
# RS: segment localization on real incidents

RS_REFERENCE = {"RiskLoc": 0.065, "Squeeze": 0.111, "HotSpot": 0.054, "AutoRoot": 0.167, "Adtributor": 0.417,
                "RobustSpot": 0.425}


def _rs_group(rows: Sequence[SegmentSetScore]) -> str:
    n = len(rows)
    if not n:
        return "n/a | n/a | n/a"
    return (f"{_pct(sum(r.top.get(1, False) for r in rows) / n)} | {_pct(sum(r.top.get(3, False) for r in rows) / n)}"
            f" | {sum(r.f1 for r in rows) / n:.2f}")


def _truth_group(r: SegmentSetScore) -> str:
    return "several" if r.n_truth > 1 else f"{r.dims}-dim"


def render_rs_markdown(rows: Sequence[SegmentSetScore], meta: RunMeta) -> str:
    """rs.md: top-1 / top-3 / F1 per system, overall and per truth shape, then every case."""
    systems = system_order([r.system for r in rows])
    groups = sorted({_truth_group(r) for r in rows}, key=lambda g: (g == "several", g))
    lines = [f"# {meta.title}", "",
             f"{meta.date} · commit {meta.commit} · {meta.scenarios} cases · engine {meta.engine_mode} · "
             f"{meta.wall_s:.0f} s on {meta.workers} workers", *[f"- {n}" for n in meta.notes], "",
             "Top-1: the first root cause is a labelled segment. Top-3: the first three hold min(3, number labelled)"
             " of the labelled segments. F1: the reported set (segment root causes with score >= 0.5; a baseline's"
             " returned set) against the labelled set, per case, averaged. Reproduce: `make eval-rs`.", "",
             "| system | n | top-1 | top-3 | F1 | " + " | ".join(f"{g} (n) top-1 / top-3 / F1" for g in groups)
             + " | errors |", "|---" * (5 + len(groups)) + "|---|"]
    for s in systems:
        mine = [r for r in rows if r.system == s]
        cells = []
        for g in groups:
            part = [r for r in mine if _truth_group(r) == g]
            cells.append(f"({len(part)}) " + _rs_group(part).replace(" | ", " / "))
        lines.append(f"| {s} | {len(mine)} | {_rs_group(mine)} | " + " | ".join(cells)
                     + f" | {sum(r.error is not None for r in mine)} |")
    lines += ["", "Published F1 of the returned set on 18 of these cases (RiskLoc repository, default settings): "
              + ", ".join(f"{k} {v:.2f}" for k, v in RS_REFERENCE.items()) + ".", "", "## Per case", "",
              "| case | truth | " + " | ".join(f"{s} top-3 (reported)" for s in systems) + " |",
              "|---|---|" + "---|" * len(systems)]
    by_case: dict[str, dict[str, SegmentSetScore]] = {}
    for r in rows:
        by_case.setdefault(r.scenario, {})[r.system] = r
    truths = {r.scenario: r for r in rows if r.system == systems[0]}
    for case in sorted(by_case):
        cells = []
        for s in systems:
            r = by_case[case].get(s)
            if r is None:
                cells.append("")
                continue
            mark = "✓" if r.top.get(1) else ("top-3" if r.top.get(3) else "✗")
            shown = r.error[:60] if r.error else "; ".join(r.ranked) + f" ({len(r.reported)} rep., F1 {r.f1:.2f})"
            cells.append(f"{mark} {shown}")
        lines.append(f"| {case} | {_truth_group(truths.get(case, next(iter(by_case[case].values()))))} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

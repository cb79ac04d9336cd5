"""PetShop external benchmark: convert its issues to scenarios and score upstream attribution.

Why: PetShop (Hardt et al., arXiv:2311.04806) is a public microservice root-cause benchmark with
injected faults and a published baseline, so it checks `tools.upstream` on data we did not make.

Conversion choices (see `convert`):
- One metric per (component, metric family) for the paged family only (latency or availability,
  statistic `Average`), named `<component>_<family>` after SQL-identifier sanitizing.
- Causal edges run callee -> caller: `graph.csv` rows are callers (PetSite's row calls PetSearch),
  and a slow or failing callee shows up in its callers, never the reverse.
- Normal rows (`noissue/`, recorded months later) are moved in time to end right before the
  issue's first row, on the same 5-minute grid; values are unchanged.
- The incident window runs from the 5-minute row holding the page (`target.timestamp`) to the last
  row; the earlier row is left as the nearest normal row. `target.json`'s `metadata` (the injection
  command) and `root_cause` never reach the scenario except `root_cause` in `truth.json`.

Run: `python -m evals.petshop --out evals/results/petshop.md`.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import yaml

from evals.datasets import benchmark_dir
from tools.upstream import UpstreamResult, attribute_upstream

DATASET = benchmark_dir("petshop", "RCA_PETSHOP_DIR")
SCENARIOS = ("low_traffic", "high_traffic")
SPLITS = ("train", "test")
FAMILIES = ("latency", "availability")
TABLE = "metrics"
TS = "ts"
STEP_S = 300

# Published anomaly-traversal baseline on these 52 issues (top-1, top-3), see the dataset README.
REFERENCE = {
    ("overall", ""): (0.635, 0.788),
    ("low_traffic", "latency"): (0.571, 0.571),
    ("low_traffic", "availability"): (0.750, 1.000),
    ("high_traffic", "latency"): (0.571, 0.786),
    ("high_traffic", "availability"): (0.667, 0.833),
}

Ranker = Callable[[Path], list[str]]

# The normal rows come from another period (months later); only the row before the page is from
# the incident's own period, so deviations are measured against it (chosen on the train issues).
REFERENCE_ROWS = 1


def sanitize(name: str) -> str:
    """A lower-case SQL identifier from an AWS component name."""
    ident = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    if not ident or ident[0].isdigit():
        ident = "c_" + ident
    return ident


def component_ids(components: list[str]) -> dict[str, str]:
    """Original component name -> unique identifier; case-only collisions get _2, _3 (sorted order)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for comp in sorted(components):
        base = sanitize(comp)
        ident, n = base, 1
        while ident in used:
            n += 1
            ident = f"{base}_{n}"
        used.add(ident)
        out[comp] = ident
    return out


def metric_name(component_id: str, family: str) -> str:
    return f"{component_id}_{family}"


def component_of(metric: str) -> str:
    """Inverse of `metric_name`."""
    for fam in FAMILIES:
        if metric.endswith("_" + fam):
            return metric[: -len(fam) - 1]
    return metric


def _read_metrics(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=[0, 1, 2], index_col=0)


def _family(df: pd.DataFrame, family: str) -> pd.DataFrame:
    """Columns of one family's Average, keyed by component name."""
    sel = [c for c in df.columns if c[1] == family and c[2] == "Average"]
    out = df[sel].copy()
    out.columns = [c[0] for c in sel]
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _metric_graph(scenario_dir: Path, components: set[str], ids: dict[str, str], family: str) -> list[list[str]]:
    """Callee -> caller edges between the components that have data (others marginalized)."""
    adj = pd.read_csv(scenario_dir / "graph.csv", index_col=0)
    calls = nx.from_pandas_adjacency(adj, create_using=nx.DiGraph)  # caller -> callee
    causal = calls.reverse(copy=True)
    for node in sorted(n for n in list(causal.nodes) if n not in components):
        for p in list(causal.predecessors(node)):
            for c in list(causal.successors(node)):
                if p != c:
                    causal.add_edge(p, c)
        causal.remove_node(node)
    return sorted([metric_name(ids[u], family), metric_name(ids[v], family)] for u, v in causal.edges)


def convert(issue_dir: Path, *, out: Path) -> Path:
    """Write the issue as a scenario folder at `out` (spec format) and return `out`."""
    issue_dir = Path(issue_dir)
    scenario_dir = issue_dir.parent.parent
    target_info = json.loads((issue_dir / "target.json").read_text())
    target = target_info["target"]
    family = target["metric"]
    if family not in FAMILIES:
        raise ValueError(f"{issue_dir}/target.json: target.metric {family!r} not in {FAMILIES}")

    normal = _family(_read_metrics(scenario_dir / "noissue" / "metrics.csv"), family)
    issue = _family(_read_metrics(issue_dir / "metrics.csv"), family)
    components = sorted(set(normal.columns) & set(issue.columns))
    ids = component_ids(sorted(set(normal.columns) | set(issue.columns)))
    normal, issue = normal[components], issue[components]

    # Normal rows end one step before the issue's first row, on the same grid.
    first = float(issue.index.min())
    shift = first - STEP_S - float(normal.index.max())
    normal.index = normal.index + shift
    wide = pd.concat([normal, issue]).sort_index()
    wide.columns = [metric_name(ids[c], family) for c in components]
    wide.index = pd.to_datetime(wide.index.astype("int64"), unit="s")
    wide.index.name = TS

    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    wide.to_csv(out / "data" / f"{TABLE}.csv", float_format="%.6g", date_format="%Y-%m-%d %H:%M:%S")

    trigger = float(target["timestamp"])
    rows = issue.index.to_numpy(dtype=float)
    start = float(rows[rows <= trigger].max()) if (rows <= trigger).any() else float(rows.min())
    higher_is_worse = family == "latency"
    metrics = {
        metric_name(ids[c], family): {
            "description": f"{c} {family} (Average over 5 minutes), PetShop dataset",
            "table": TABLE,
            "timestamp": TS,
            "value": f"avg({metric_name(ids[c], family)})",
            "dimensions": [],
            "higher_is_worse": higher_is_worse,
        }
        for c in components
    }
    catalog = {
        "dialect": "duckdb",
        "grain": "minute",
        "metrics": metrics,
        "graph": _metric_graph(scenario_dir, set(components), ids, family),
        "pii": {},
    }
    (out / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False, width=200))

    target_metric = metric_name(ids[target["node"]], family)
    verb = "degraded" if family == "latency" else "dropped"
    incident = {
        "id": f"PETSHOP-{scenario_dir.name}-{issue_dir.parent.name}-{issue_dir.name}",
        "title": f"{target['node']} {family} {verb}",
        "description": f"Alarm on {target['node']} {family} ({target['agg']}).",
        "severity": "SEV2",
        "status": "open",
        "metric": target_metric,
        "detected_at": _iso(trigger),
        "window": {"start": _iso(start), "end": _iso(float(rows.max()))},
    }
    (out / "incident.json").write_text(json.dumps(incident, indent=2) + "\n")

    rc = target_info["root_cause"]["node"]
    truth = {
        "root_cause": {"kind": "upstream", "id": metric_name(ids[rc], family)},
        "component": rc,
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return out


def rank_components(result: UpstreamResult) -> list[str]:
    """Component ids, best first, from an upstream result (one per component, first occurrence)."""
    seen: list[str] = []
    for s in result.scores:
        comp = component_of(s.metric)
        if comp not in seen:
            seen.append(comp)
    return seen


def rank_components_from_report(report: dict) -> list[str]:
    """Component ids, best first, from an engine report (spec section 5): its upstream causes only."""
    ranked = sorted(report.get("root_causes", []), key=lambda rc: rc.get("rank", 0))
    seen: list[str] = []
    for rc in ranked:
        if rc.get("kind") == "upstream" and component_of(str(rc.get("id"))) not in seen:
            seen.append(component_of(str(rc["id"])))
    return seen


def load_scenario_inputs(scenario: Path) -> tuple[pd.DataFrame, list[tuple[str, str]], str, np.ndarray, int]:
    """Series, graph, target, anomaly mask and bad direction from a scenario (never reads truth.json)."""
    catalog = yaml.safe_load((scenario / "catalog.yaml").read_text())
    incident = json.loads((scenario / "incident.json").read_text())
    data = pd.read_csv(scenario / "data" / f"{TABLE}.csv", parse_dates=[TS]).set_index(TS).sort_index()
    cols = [m for m in catalog["metrics"] if m in data.columns]
    series = data[cols].astype(float)
    start = pd.Timestamp(incident["window"]["start"]).tz_localize(None)
    end = pd.Timestamp(incident["window"]["end"]).tz_localize(None)
    mask = np.asarray((series.index >= start) & (series.index <= end))
    graph = [(u, v) for u, v in catalog.get("graph", [])]
    target = incident["metric"]
    direction = 1 if catalog["metrics"][target].get("higher_is_worse", True) else -1
    return series, graph, target, mask, direction


def make_upstream_ranker(**options: object) -> Ranker:
    """A ranker running `tools.upstream.attribute_upstream` directly on the scenario's table.

    The incident's direction comes from the catalog (`higher_is_worse`); `options` go to
    `attribute_upstream` (default: `reference_rows=REFERENCE_ROWS`).
    """
    kwargs = {"reference_rows": REFERENCE_ROWS, **options}

    def ranker(scenario: Path) -> list[str]:
        series, graph, target, mask, direction = load_scenario_inputs(scenario)
        result = attribute_upstream(
            series=series, graph=graph, target=target, anomaly=mask, direction=direction, **kwargs
        )
        return rank_components(result)

    return ranker


upstream_ranker: Ranker = make_upstream_ranker()

# Variants reported beside the main setting (chosen on the train issues only, see the report).
ABLATIONS: dict[str, dict[str, object]] = {
    "main: reference = row before the page, blind edges = out of support": {},
    "reference = all normal rows": {"reference_rows": None},
    "blind edges = constant parents only": {"blind_edges": "constant"},
    "no credit passing (plain gcm attribution x gate)": {"blind_edges": "none"},
}


def issue_dirs(dataset: Path = DATASET, splits: tuple[str, ...] = SPLITS) -> list[Path]:
    """All issues in a fixed order: scenario, split, issue number."""
    out = []
    for scen in SCENARIOS:
        for split in splits:
            found = sorted((dataset / scen / split).glob("issue_*"), key=lambda p: int(p.name.split("_")[1]))
            out.extend(found)
    return out


def evaluate(
    *,
    ranker: Ranker = upstream_ranker,
    dataset: Path = DATASET,
    work: Path | None = None,
    splits: tuple[str, ...] = SPLITS,
) -> pd.DataFrame:
    """Convert every issue, rank, and return one row per issue with the truth's rank and timing."""
    import dowhy.gcm  # noqa: F401 - warm the import (seconds) so per-issue timings measure the analysis

    rows = []
    with tempfile.TemporaryDirectory(prefix="petshop-") as tmp:
        base = Path(work) if work else Path(tmp)
        for issue in issue_dirs(dataset, splits):
            scen, split = issue.parent.parent.name, issue.parent.name
            scenario = convert(issue, out=base / scen / split / issue.name)
            truth = json.loads((scenario / "truth.json").read_text())
            family = json.loads((issue / "target.json").read_text())["target"]["metric"]
            t0 = time.perf_counter()
            ranking = ranker(scenario)
            elapsed = time.perf_counter() - t0
            want = component_of(truth["root_cause"]["id"])
            rank = ranking.index(want) + 1 if want in ranking else None
            rows.append(
                {
                    "scenario": scen,
                    "split": split,
                    "issue": issue.name,
                    "family": family,
                    "truth": truth["component"],
                    "rank": rank,
                    "ranked": ", ".join(ranking[:3]),
                    "seconds": elapsed,
                }
            )
    df = pd.DataFrame(rows)
    df["top1"] = df["rank"].eq(1)
    df["top3"] = df["rank"].le(3) & df["rank"].notna()
    return df


def _recall(df: pd.DataFrame) -> tuple[float, float, int]:
    return float(df["top1"].mean()), float(df["top3"].mean()), len(df)


def report(df: pd.DataFrame, ablations: dict[str, pd.DataFrame] | None = None) -> str:
    """Markdown: recall by split, by scenario x family, beside the published reference."""
    lines = [
        "# PetShop benchmark: upstream attribution",
        "",
        "Top-k recall of the injected root-cause component (52 issues, 26 per traffic scenario).",
        "Reference: the dataset's anomaly-traversal baseline (all 52 issues, train + test).",
        "",
        "| group | split | n | top-1 | top-3 | reference top-1 / top-3 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    groups: list[tuple[str, str, pd.DataFrame]] = [("overall", "", df)]
    for scen in SCENARIOS:
        for fam in FAMILIES:
            groups.append((scen, fam, df[(df.scenario == scen) & (df.family == fam)]))
    for scen, fam, g in groups:
        ref = REFERENCE.get((scen, fam))
        ref_s = f"{ref[0]:.3f} / {ref[1]:.3f}" if ref else ""
        name = f"{scen} {fam}".strip()
        for split in ("all", *SPLITS):
            part = g if split == "all" else g[g.split == split]
            if part.empty:
                continue
            t1, t3, n = _recall(part)
            lines.append(f"| {name} | {split} | {n} | {t1:.3f} | {t3:.3f} | {ref_s if split == 'all' else ''} |")
    secs = df["seconds"]
    lines += [
        "",
        f"Time per issue (wall, shared 2-core machine): median {secs.median():.2f} s, "
        f"max {secs.max():.2f} s, total {secs.sum():.1f} s.",
        "",
        NOTES,
    ]
    if ablations:
        lines += [
            "## Variants",
            "",
            "The main setting was chosen on the 16 train issues before any test issue was run; the",
            "variants are reported for transparency, none was selected on test results.",
            "",
            "| variant | train top-1 / top-3 | test top-1 / top-3 | all top-1 / top-3 |",
            "| --- | --- | --- | --- |",
        ]
        for name, adf in ablations.items():
            cells = []
            for part in (adf[adf.split == "train"], adf[adf.split == "test"], adf):
                t1, t3, _ = _recall(part)
                cells.append(f"{t1:.3f} / {t3:.3f}")
            lines.append(f"| {name} | {' | '.join(cells)} |")
        lines.append("")
    lines += [
        "## Per issue",
        "",
        "| scenario | split | issue | family | truth | rank | top 3 | s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in df.itertuples():
        rank = int(r.rank) if pd.notna(r.rank) else "-"
        lines.append(
            f"| {r.scenario} | {r.split} | {r.issue} | {r.family} | {r.truth} | {rank} | {r.ranked} | {r.seconds:.2f} |"
        )
    return "\n".join(lines) + "\n"


NOTES = """## How the issues are run

- Converted scenario per issue (`convert`): the paged family only (latency or availability,
  statistic Average), 5-minute rows; normal rows = `noissue/` moved to end right before the issue;
  causal edges callee -> caller; components without data marginalized out of the graph.
- Window: from the row holding the page (`target.timestamp`) to the last issue row (4 rows);
  the earlier issue row is the only normal row from the incident's own period.
- Ranking: `tools.upstream.attribute_upstream` (linear additive-noise SCM fitted on the normal
  rows, gcm anomaly attribution of the target's change, own-anomaly gate, credit passing over
  edges the model cannot know), with direction from the catalog (`higher_is_worse`) and
  `reference_rows=1`; components ordered by their best metric; ties broken by name.
- `target.json`'s `metadata` and `root_cause` never reach the scenario except `truth.json`.

Known misses (seen after the one test run, left unfixed so that test stays held out):
- Twin nodes: a service and its load balancer seen from the caller (e.g. petlistadoptions and
  `servi-lista...elb..._remote`) are both anomalous roots of the graph with no edge between them;
  the credit is split and the balancer sometimes ranks first (rank 2 for the truth).
- Credit passed too far: when a callee (e.g. the adoptions database) is itself out of its normal
  range and shifted, a caller's large own shift (payforadoption) is handed to it.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("evals/results/petshop.md"))
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--work", type=Path, default=None, help="keep converted scenarios here")
    parser.add_argument("--ablation", action="store_true", help="also run the variants (4x the time)")
    args = parser.parse_args(argv)
    df = evaluate(dataset=args.dataset, work=args.work)
    ablations = None
    if args.ablation:
        ablations = {
            name: df if not opts else evaluate(ranker=make_upstream_ranker(**opts), dataset=args.dataset)
            for name, opts in ABLATIONS.items()
        }
    text = report(df, ablations)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Scores one investigation report against its scenario's truth, and aggregates scores over a suite.

Pure functions on plain dicts (the spec's ``truth.json`` and report JSON), so the engine, the baselines and
hand-written reports are all scored by the same code.

Rules (spec section 6, plus the suite's extensions):

- **AC@k**: right when the truth's ``kind`` and ``id`` appear among the first ``k`` ``root_causes``.
  Kinds and ids compare case-insensitively; a ``segment`` id (``dim=value[,dim=value]``) compares as a
  set of pairs, so the order of the pairs does not matter.
- **Null family** (truth ``root_cause: {kind: "none", id: null}``): nothing is wrong, so the report is
  right at every k when *no* root cause in the whole list has ``score >= 0.5`` (a root cause without a
  ``score`` counts as a confident claim). AC@1 = AC@2 = AC@3 for these scenarios.
- **Avg@3**: the mean of AC@1, AC@2 and AC@3.
- **Segment accuracy**: the truth's ``segment`` equals the report's first segment's ``dimensions``
  (same pairs, case-insensitive). Not applicable when the truth has no ``segment``.
- **Impact within 10%**: ``|report.impact.affected_units - truth.affected_units| <= 0.1 * truth``.
  Not applicable when the truth has no ``affected_units``.
- **Similar@3**: a truth ``similar_incidents`` id is among the report's first three
  ``similar_incidents``. Not applicable when the truth lists none.
- **Calibration**: the top-1 ``score`` is read as the probability that the top-1 root cause is right.
  A report with no root causes predicts 0; on a null scenario the top-1 is never right (there is
  nothing to find), so a confident top-1 there is overconfidence.

Metrics that do not apply to a scenario are ``None`` and are left out of the means (the aggregate also
reports how many scenarios each mean is over). A report that lacks a key altogether (``segments``,
``impact``, ``similar_incidents``) did not attempt that task, as with the baselines: ``None`` too. A failed
run (no report) is wrong on every metric its truth defines.

A ``key`` hook maps a root cause ``(kind, id)`` to the comparable key; the default is
:func:`default_key`. External benchmarks whose truth names a *component* (PetShop) pass a key built by
:func:`component_key` so that any metric of the right component counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

KS = (1, 2, 3)
NULL_KIND = "none"
NULL_SCORE_THRESHOLD = 0.5
IMPACT_TOLERANCE = 0.10

KeyFn = Callable[[str, Any], Hashable]


# ---------------------------------------------------------------------------------------------------------
# keys


def _norm(value: Any) -> str:
    return str(value).strip().casefold()


def parse_segment_id(segment_id: str) -> frozenset[tuple[str, str]]:
    """``"region=EU,platform=android"`` -> pairs; order-insensitive and case-insensitive by construction."""
    pairs = []
    for part in str(segment_id).split(","):
        if not part.strip():
            continue
        dim, sep, val = part.partition("=")
        pairs.append((_norm(dim), _norm(val) if sep else ""))
    return frozenset(pairs)


def segment_pairs(dimensions: Mapping[str, Any] | None) -> frozenset[tuple[str, str]]:
    """A segment's ``dimensions`` mapping as comparable pairs."""
    return frozenset((_norm(k), _norm(v)) for k, v in (dimensions or {}).items())


def default_key(kind: str, rc_id: Any) -> Hashable:
    """The comparable form of a root cause: casefolded kind and id; segment ids become a set of pairs."""
    k = _norm(kind)
    if k == "segment":
        return (k, parse_segment_id(rc_id or ""))
    return (k, None if rc_id is None else _norm(rc_id))


def component_key(component_of: Mapping[str, str] | Callable[[str], str | None]) -> KeyFn:
    """A key for benchmarks scored by component: maps an id (a metric name) to its component.

    Ids the mapping does not know map to themselves, so a truth that already names the component works.
    The kind is ignored (a component is a component whether reported as upstream or otherwise).
    """
    lookup: Callable[[str], str | None]
    if callable(component_of):
        lookup = component_of
    else:
        table = {_norm(k): v for k, v in component_of.items()}

        def lookup(name: str) -> str | None:
            return table.get(_norm(name))

    def key(kind: str, rc_id: Any) -> Hashable:
        if rc_id is None:
            return ("component", None)
        mapped = lookup(str(rc_id))
        return ("component", _norm(mapped if mapped is not None else rc_id))

    return key


# ---------------------------------------------------------------------------------------------------------
# per-scenario score


class ScenarioScore(BaseModel):
    """Every metric for one (truth, report) pair; ``None`` = not applicable to this scenario."""

    scenario: str = ""
    family: str = ""
    system: str = "engine"
    ac: dict[int, bool] = Field(default_factory=dict)
    avg3: float = 0.0
    rank: int | None = None
    segment_correct: bool | None = None
    impact_within_10: bool | None = None
    similar_at_3: bool | None = None
    top1_score: float | None = None
    top1_correct: bool = False
    latency_s: float | None = None
    error: str | None = None
    skipped: bool = False
    separable: bool | None = None      # could the data tell the truth from a change? (evals.separability)
    separability: str | None = None    # the oracle's reading, for the report

    @property
    def ac1(self) -> bool:
        return self.ac.get(1, False)

    @property
    def ac3(self) -> bool:
        return self.ac.get(3, False)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _root_causes(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [rc for rc in _as_list(report.get("root_causes")) if isinstance(rc, Mapping)]


def _score_of(rc: Mapping[str, Any]) -> float | None:
    score = rc.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or math.isnan(score):
        return None
    return float(score)


def is_null_truth(truth: Mapping[str, Any]) -> bool:
    """True for the null family: the truth says there is no root cause."""
    rc = truth.get("root_cause") or {}
    return _norm(rc.get("kind", "")) == NULL_KIND


def truth_rank(truth: Mapping[str, Any], report: Mapping[str, Any], *,
               key: KeyFn = default_key) -> int | None:
    """1-based position of the truth among the report's root causes, or None when absent.

    For the null family the rank is 1 when the report makes no confident claim (see module docstring).
    """
    causes = _root_causes(report)
    if is_null_truth(truth):
        confident = [rc for rc in causes if (_score_of(rc) if _score_of(rc) is not None else 1.0)
                     >= NULL_SCORE_THRESHOLD]
        return None if confident else 1
    rc_truth = truth.get("root_cause") or {}
    if "kind" not in rc_truth:
        return None
    want = key(rc_truth.get("kind", ""), rc_truth.get("id"))
    for i, rc in enumerate(causes, start=1):
        if key(rc.get("kind", ""), rc.get("id")) == want:
            return i
    return None


def accuracy_at(truth: Mapping[str, Any], report: Mapping[str, Any], k: int, *,
                key: KeyFn = default_key) -> bool:
    """AC@k: the truth is among the first k root causes (null family: no confident root cause at all)."""
    rank = truth_rank(truth, report, key=key)
    return rank is not None and rank <= k


def segment_correct(truth: Mapping[str, Any], report: Mapping[str, Any]) -> bool | None:
    """The report's first segment has exactly the truth's dimensions; None when the truth has no segment."""
    want = truth.get("segment")
    if not isinstance(want, Mapping) or not want:
        return None
    segments = [s for s in _as_list(report.get("segments")) if isinstance(s, Mapping)]
    if not segments:
        return False
    dims = segments[0].get("dimensions")
    return isinstance(dims, Mapping) and segment_pairs(dims) == segment_pairs(want)


def impact_within(truth: Mapping[str, Any], report: Mapping[str, Any], *,
                  tolerance: float = IMPACT_TOLERANCE) -> bool | None:
    """|reported - truth| <= tolerance * truth for ``affected_units``; None when the truth has none."""
    want = truth.get("affected_units")
    if isinstance(want, bool) or not isinstance(want, int | float):
        return None
    impact = report.get("impact")
    got = impact.get("affected_units") if isinstance(impact, Mapping) else None
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    return abs(float(got) - float(want)) <= tolerance * abs(float(want))


def similar_at(truth: Mapping[str, Any], report: Mapping[str, Any], k: int = 3) -> bool | None:
    """A truth ``similar_incidents`` id is among the report's first k; None when the truth lists none."""
    want = {_norm(x) for x in _as_list(truth.get("similar_incidents")) if x is not None}
    if not want:
        return None
    got = []
    for item in _as_list(report.get("similar_incidents"))[:k]:
        ident = item.get("id") if isinstance(item, Mapping) else item
        if ident is not None:
            got.append(_norm(ident))
    return bool(want.intersection(got))


def top1_score(report: Mapping[str, Any]) -> float | None:
    """The top-1 root cause's score (None when there is a top-1 but it carries no score); 0 with no top-1."""
    causes = _root_causes(report)
    if not causes:
        return 0.0
    score = _score_of(causes[0])
    return None if score is None else min(1.0, max(0.0, score))


def _attempted(report: Mapping[str, Any] | None, key: str, result: bool | None) -> bool | None:
    """A report without the key at all did not attempt that task (a baseline): not applicable, not wrong."""
    if report is not None and key not in report:
        return None
    return result


def score_scenario(truth: Mapping[str, Any], report: Mapping[str, Any] | None, *, scenario: str = "",
                   family: str = "", system: str = "engine", latency_s: float | None = None,
                   error: str | None = None, skipped: bool = False,
                   key: KeyFn = default_key) -> ScenarioScore:
    """All metrics for one scenario; a failed run (``report`` None) is wrong everywhere, its error kept.

    ``skipped`` marks a system that does not apply to the scenario (left out of every aggregate).
    """
    rep: Mapping[str, Any] = report if isinstance(report, Mapping) else {}
    if report is None and error is None and not skipped:
        error = "no report"
    rank = None if report is None else truth_rank(truth, rep, key=key)
    ac = {k: rank is not None and rank <= k for k in KS}
    return ScenarioScore(
        scenario=scenario, family=family, system=system, ac=ac,
        avg3=sum(ac.values()) / len(KS), rank=rank,
        segment_correct=_attempted(report, "segments", segment_correct(truth, rep)),
        impact_within_10=_attempted(report, "impact", impact_within(truth, rep)),
        similar_at_3=_attempted(report, "similar_incidents", similar_at(truth, rep, 3)),
        top1_score=None if report is None else top1_score(rep),
        top1_correct=ac[1] and not is_null_truth(truth),
        latency_s=latency_s, error=error, skipped=skipped,
    )


# ---------------------------------------------------------------------------------------------------------
# calibration


class ReliabilityBin(BaseModel):
    """One bin of the reliability table: predicted top-1 scores in [lo, hi) and how often top-1 was right."""

    lo: float
    hi: float
    count: int
    mean_score: float | None
    accuracy: float | None


class Calibration(BaseModel):
    """Reliability table, Brier score and expected calibration error of the top-1 score."""

    n: int
    bins: list[ReliabilityBin]
    brier: float | None
    ece: float | None


def calibration(pairs: Iterable[tuple[float, bool]], *, n_bins: int = 10) -> Calibration:
    """Calibration of (probability, outcome) pairs in equal-width bins; 1.0 falls in the last bin."""
    data = [(min(1.0, max(0.0, float(p))), bool(y)) for p, y in pairs if p is not None]
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for p, y in data:
        groups[min(int(p * n_bins), n_bins - 1)].append((p, y))
    bins = []
    ece = 0.0
    for i, group in enumerate(groups):
        lo, hi = i / n_bins, (i + 1) / n_bins
        if group:
            conf = sum(p for p, _ in group) / len(group)
            acc = sum(y for _, y in group) / len(group)
            ece += len(group) / len(data) * abs(acc - conf)
            bins.append(ReliabilityBin(lo=lo, hi=hi, count=len(group), mean_score=conf, accuracy=acc))
        else:
            bins.append(ReliabilityBin(lo=lo, hi=hi, count=0, mean_score=None, accuracy=None))
    brier = sum((p - y) ** 2 for p, y in data) / len(data) if data else None
    return Calibration(n=len(data), bins=bins, brier=brier, ece=ece if data else None)


def calibration_of(scores: Iterable[ScenarioScore], *, n_bins: int = 10) -> Calibration:
    """Calibration of the top-1 score over scored scenarios (failed runs and unscored top-1s are left out)."""
    return calibration(((s.top1_score, s.top1_correct) for s in scores
                        if s.top1_score is not None and s.error is None and not s.skipped), n_bins=n_bins)


# ---------------------------------------------------------------------------------------------------------
# aggregation


class Aggregate(BaseModel):
    """Means over a group of scenarios; ``n_*`` say how many scenarios each optional metric is over."""

    system: str
    group: str
    n: int
    errors: int
    skipped: int
    ac: dict[int, float | None]
    avg3: float | None
    segment_acc: float | None
    n_segment: int
    impact_within_10: float | None
    n_impact: int
    similar_at_3: float | None
    n_similar: int
    latency_p50: float | None
    latency_p95: float | None


def _mean_opt(values: Sequence[bool | None]) -> tuple[float | None, int]:
    vals = [float(v) for v in values if v is not None]
    return (sum(vals) / len(vals) if vals else None), len(vals)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]) without numpy, None for an empty list."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def aggregate(scores: Sequence[ScenarioScore], *, system: str, group: str) -> Aggregate:
    """Means of every metric; skipped scenarios (a baseline that does not apply) are left out."""
    used = [s for s in scores if not s.skipped]
    n = len(used)
    ac = {k: (sum(s.ac.get(k, False) for s in used) / n if n else None) for k in KS}
    seg, n_seg = _mean_opt([s.segment_correct for s in used])
    imp, n_imp = _mean_opt([s.impact_within_10 for s in used])
    sim, n_sim = _mean_opt([s.similar_at_3 for s in used])
    lat = [s.latency_s for s in used if s.latency_s is not None and s.error is None]
    return Aggregate(
        system=system, group=group, n=n, errors=sum(s.error is not None for s in used),
        skipped=len(scores) - n, ac=ac, avg3=(sum(s.avg3 for s in used) / n if n else None),
        segment_acc=seg, n_segment=n_seg, impact_within_10=imp, n_impact=n_imp,
        similar_at_3=sim, n_similar=n_sim,
        latency_p50=percentile(lat, 50), latency_p95=percentile(lat, 95),
    )


def aggregate_by_family(scores: Sequence[ScenarioScore]) -> dict[tuple[str, str], Aggregate]:
    """Aggregates keyed by (system, family), plus (system, "overall") for each system."""
    out: dict[tuple[str, str], Aggregate] = {}
    systems = sorted({s.system for s in scores})
    for system in systems:
        mine = [s for s in scores if s.system == system]
        for family in sorted({s.family for s in mine}):
            group = [s for s in mine if s.family == family]
            out[(system, family)] = aggregate(group, system=system, group=family)
        out[(system, "overall")] = aggregate(mine, system=system, group="overall")
    return out


# ---------------------------------------------------------------------------------------------------------
# segment localization (the RS benchmark: the answer is one or several segments)

REPORTED_SCORE = NULL_SCORE_THRESHOLD  # a segment root cause scored at least this is one the report puts forward


class SegmentSetScore(BaseModel):
    """Top-k and set F1 of a report's segment root causes against the labelled segment(s)."""

    scenario: str = ""
    system: str = "engine"
    dims: int = 1
    n_truth: int = 1
    top: dict[int, bool] = Field(default_factory=dict)
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    reported: list[str] = Field(default_factory=list)
    ranked: list[str] = Field(default_factory=list)
    error: str | None = None


def reported_segments(report: Mapping[str, Any], *, threshold: float = REPORTED_SCORE) -> list[str]:
    """The segment set a report puts forward: its ``segment`` root causes scored at least ``threshold``.

    The same rule as a confident claim on a null incident (:data:`NULL_SCORE_THRESHOLD`): a root cause
    below it is listed (considered) but not claimed. A root cause without a score counts as claimed.
    """
    out = []
    for rc in _root_causes(report):
        if _norm(rc.get("kind", "")) != "segment":
            continue
        score = _score_of(rc)
        if score is None or score >= threshold:
            out.append(str(rc.get("id", "")))
    return out


def segment_set_score(truth: Mapping[str, Any], report: Mapping[str, Any] | None, *, scenario: str = "",
                      system: str = "engine", error: str | None = None) -> SegmentSetScore:
    """Top-k (k=1, 3): the first k root causes hold min(k, number labelled) of the labelled segments.
    F1: of the reported set (:func:`reported_segments`) against the labelled set, pairs compared as sets."""
    ids = _as_list(truth.get("segments")) or [(truth.get("root_cause") or {}).get("id", "")]
    want = {parse_segment_id(x) for x in ids}
    dims = max((len(w) for w in want), default=0)
    if report is None:
        return SegmentSetScore(scenario=scenario, system=system, dims=dims, n_truth=len(want),
                               top={1: False, 3: False}, error=error or "no report")
    causes = _root_causes(report)
    ranked = [parse_segment_id(rc.get("id", "")) if _norm(rc.get("kind", "")) == "segment" else frozenset()
              for rc in causes]
    top = {k: len(want.intersection(ranked[:k])) >= min(k, len(want)) for k in (1, 3)}
    got = {parse_segment_id(x) for x in reported_segments(report)}
    hit = len(got & want)
    precision = hit / len(got) if got else 0.0
    recall = hit / len(want) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hit else 0.0
    return SegmentSetScore(scenario=scenario, system=system, dims=dims, n_truth=len(want), top=top,
                           precision=precision, recall=recall, f1=f1, reported=reported_segments(report),
                           ranked=[str(rc.get("id", "")) for rc in causes[:3]], error=error)

"""The number checker: every number in a narrative must cite an evidence id whose facts hold that number.

Numbers are read with their units (%, k, M, ms, s, x, pp), compared with the cited evidence's numbers (its
data, plus the report's figures that cite it and the changes derived from them) allowing for the rounding
the text shows. Identifiers (deploy-1260, 31.2.0, E3), dates and times are not numbers here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from agent.report import Report

CITE = re.compile(r"\[(E\d+)\]")
NUMBER = re.compile(r"(?<![\w\-./:])([-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?)"
                    r"(\s?(?:%|ms\b|k\b|K\b|M\b|s\b|x\b|×|pp\b))?(?![\w\-/:]|\.\d)")
FREE_INTS = 10  # integers up to this are counting words ("top 3", "2 refutations"), not measurements
UNITS = {"%": (0.01, 1.0), "pp": (0.01, 1.0), "k": (1e3,), "K": (1e3,), "M": (1e6,), "ms": (1.0, 1e-3),
         "s": (1.0, 1e3), "x": (1.0,), "×": (1.0,)}


class NumberProblem(BaseModel):
    """A number the evidence does not back: uncited, citing an unknown id, or not in what it cites."""

    number: str
    sentence: str
    problem: str


def _numbers_in(value: Any) -> Iterable[float]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if math.isfinite(float(value)):
            yield float(value)
    elif isinstance(value, str):
        for m in NUMBER.finditer(value):
            try:
                yield float(m.group(1).replace(",", ""))
            except ValueError:
                continue
    elif isinstance(value, BaseModel):
        yield from _numbers_in(value.model_dump(mode="json"))
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _numbers_in(v)


def _derived(a: float | None, b: float | None) -> list[float]:
    """Changes a writer may state from two levels: difference, relative change, ratio."""
    if a is None or b is None:
        return []
    out = [b - a, abs(b - a)]
    if a:
        out += [(b - a) / a, abs(b - a) / abs(a), b / a]
    return out


def evidence_numbers(report: Report, extra: Iterable[Any] = ()) -> dict[str, list[float]]:
    """For each evidence id, the numbers a sentence citing it may state."""
    pool: dict[str, list[float]] = {e.id: list(_numbers_in(e.data)) for e in [*report.evidence, *extra]}

    def add(ids: list[str], values: Iterable[Any]) -> None:
        nums = list(_numbers_in(list(values)))
        for i in ids:
            pool.setdefault(i, []).extend(nums)

    a = report.anomaly
    add(a.evidence, [a.baseline, a.observed, *_derived(a.baseline, a.observed)])
    for c in report.root_causes:
        add(c.evidence, [c.effect, *(c.ci or []), c.p_value, c.score, c.explained_share, c.reasons, c.timing])
    seg_ids = [e.id for e in report.evidence if e.kind == "segments"]
    for s in report.segments:
        add(seg_ids, [s.share_of_change, s.baseline, s.observed, s.population_share, s.surprise,
                      *_derived(s.baseline, s.observed)])
    add(report.impact.evidence, [report.impact.affected_units])
    sim_ids = [e.id for e in report.evidence if e.kind == "retrieval"]
    add(sim_ids, [s.score for s in report.similar_incidents])
    return pool


def _decimals(text: str) -> int:
    mant = text.lower().split("e")[0]
    return len(mant.split(".")[1]) if "." in mant else 0


def _matches(shown: str, unit: str, pool: list[float]) -> bool:
    value = float(shown.replace(",", ""))
    exp_part = int(shown.lower().split("e")[1]) if "e" in shown.lower() else 0
    step = 10.0 ** (exp_part - _decimals(shown))
    scales = UNITS.get(unit.strip(), (1.0,)) if unit else (1.0,)
    for scale in scales:
        target = value * scale
        tol = max(0.5 * step * scale, 1e-9) * 1.0001
        for p in pool:
            if abs(p - target) <= tol or abs(abs(p) - abs(target)) <= tol:
                return True
            if abs(target) > 0 and abs(abs(p) - abs(target)) <= 0.005 * abs(target) and _decimals(shown) == 0 \
                    and abs(value) >= 1000:  # "18.2k"-style rounding of big counts
                return True
    return False


def _sentences(text: str) -> list[str]:
    text = re.sub(r"`[^`]*`", "", text)  # identifiers and SQL in code spans are not claims
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z#*\-])|\n+", text) if s.strip()]


def check_numbers(narrative: str, pool: dict[str, list[float]]) -> list[NumberProblem]:
    """Every problem found; an empty list means every number is backed by what it cites."""
    problems: list[NumberProblem] = []
    for sentence in _sentences(narrative):
        cited = CITE.findall(sentence)
        bare = CITE.sub(" ", sentence)
        bare = re.sub(r"\b95\s?% (?:CI|confidence)", "CI", bare)
        bare = re.sub(r"^\s*(?:#+|\d+\.|[-*])\s", " ", bare)  # headings, list markers
        for m in NUMBER.finditer(bare):
            shown, unit = m.group(1), m.group(2) or ""
            try:
                value = float(shown.replace(",", ""))
            except ValueError:
                continue
            if not unit and value == int(value) and abs(value) <= FREE_INTS and "." not in shown:
                continue
            token = f"{shown}{unit}"
            if not cited:
                problems.append(NumberProblem(number=token, sentence=sentence.strip(), problem="cites no evidence"))
                continue
            unknown = [c for c in cited if c not in pool]
            if unknown and len(unknown) == len(cited):
                problems.append(NumberProblem(number=token, sentence=sentence.strip(),
                                              problem=f"cites unknown evidence {', '.join(unknown)}"))
                continue
            nums = [x for c in cited for x in pool.get(c, [])]
            if not _matches(shown, unit, nums):
                problems.append(NumberProblem(number=token, sentence=sentence.strip(),
                                              problem=f"not found in {', '.join(cited)}"))
    return problems

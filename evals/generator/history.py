"""Past incidents (history.jsonl): one truly similar incident among unrelated ones and near misses.

"Similar" means the same metric *and* the same kind of root cause. Near misses (same metric, other kind)
are included on purpose: a retriever that matches on the metric name alone ranks them too high.
"""

from __future__ import annotations

import numpy as np

from evals.generator.common import DAY, HOUR, PLATFORMS, REGIONS, IdMaker, iso
from evals.generator.texts import HISTORY_TEMPLATES


def _filler(rng: np.random.Generator) -> dict[str, str]:
    return {"{platform}": PLATFORMS[int(rng.integers(0, len(PLATFORMS)))],
            "{region}": REGIONS[int(rng.integers(0, len(REGIONS)))]}


def _fill(values: dict[str, str], text: str) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _entry(rng: np.random.Generator, ids: IdMaker, template: dict[str, str], before: int) -> dict[str, object]:
    kind = template["kind"].split(":")[0]
    values = _filler(rng)
    opened = before - int(rng.integers(5 * DAY, 400 * DAY))
    opened = opened // HOUR * HOUR + int(rng.integers(0, 60)) * 60
    root: dict[str, object] = {"kind": kind}
    if kind == "change":
        root["id"] = ids.make(["deploy-", "cfg-", "flip-"][int(rng.integers(0, 3))], 4)
    elif kind == "upstream" and template.get("upstream_id"):
        root["id"] = template["upstream_id"]
    elif kind == "segment":
        root["id"] = f"region={values['{region}']}"
    root["summary"] = _fill(values, template["summary"])
    entry: dict[str, object] = {
        "id": ids.make("INC-", 4),
        "title": _fill(values, template["title"]),
        "description": _fill(values, template["description"]),
        "metric": template["metric"],
        "opened_at": iso(opened),
        "closed_at": iso(opened + int(rng.integers(3 * HOUR, 4 * DAY))),
        "severity": ["SEV1", "SEV2", "SEV2", "SEV3"][int(rng.integers(0, 4))],
        "root_cause": root,
    }
    if rng.random() < 0.7:
        entry["postmortem"] = template["postmortem"]
    return entry


def make_history(rng: np.random.Generator, ids: IdMaker, *, metric: str, kind: str, before: int,
                 similar: bool, n: int | None = None) -> tuple[list[dict[str, object]], list[str]]:
    """5-15 past incidents before ``before``; returns them (oldest first) and the ids of the similar ones."""
    n = int(n if n is not None else rng.integers(5, 16))
    same = [t for t in HISTORY_TEMPLATES if t["metric"] == metric and t["kind"] == kind]
    near = [t for t in HISTORY_TEMPLATES if t["metric"] == metric and t["kind"] != kind]
    other = [t for t in HISTORY_TEMPLATES if t["metric"] != metric]
    chosen: list[tuple[dict[str, str], bool]] = []
    if similar and same:
        chosen.append((same[int(rng.integers(0, len(same)))], True))
    for t in rng.permutation(len(near))[: int(rng.integers(0, 2)) + (0 if similar else 1)]:
        chosen.append((near[int(t)], False))
    picks = rng.choice(len(other), size=min(len(other), max(0, n - len(chosen))), replace=False)
    chosen += [(other[int(i)], False) for i in picks]
    entries, similar_ids = [], []
    for template, is_similar in chosen:
        e = _entry(rng, ids, template, before)
        if is_similar:
            similar_ids.append(str(e["id"]))
        entries.append(e)
    entries.sort(key=lambda e: (str(e["opened_at"]), str(e["id"])))
    return entries, similar_ids

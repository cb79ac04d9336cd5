"""RS benchmark (real live-streaming stall incidents, RiskLoc/RobustSpot): convert its cases to scenarios.

Why: the engine localizes segments on its own generator; RS is real data where the answer is a segment
(one to three dimensions, sometimes several segments at once), labelled by the people who handled it.

Conversion choices (`convert`):
- One table `stalls` (one row per leaf per minute: `minute`, `value` = viewers who stalled, `cnt` = viewers,
  the case's dimension columns as text), metric `stall_rate` = ``sum(value) / sum(cnt)``, higher is worse,
  minute grain, the case's columns as dimensions.
- Only minutes up to and including the labelled one are written: the analysis cannot read what came after.
- `detected_at` is the labelled minute; no window (the engine finds it); no change log, no history.
- `truth.json`: the first labelled segment as the root cause (kind `segment`, id ``dim=value[,dim=value]``
  sorted by dimension), every labelled segment under `segments`, and `dims` (dimensions in the truth).

Run: ``python -m evals.run --rs`` (scores in ``evals/results/rs.md``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evals.datasets import benchmark_dir

DATASET = benchmark_dir("riskloc-rs", "RCA_RS_DIR")
TABLE = "stalls"
TS = "minute"
METRIC = "stall_rate"
MEASURES = ("min", "value", "cnt")


def segment_id(cause: Mapping[str, Any]) -> str:
    """``dim=value[,dim=value]`` sorted by dimension (the spec's segment id)."""
    return ",".join(f"{d}={_text(v)}" for d, v in sorted(cause.items()))


def _text(value: Any) -> str:
    """A label value as the data's text: 2000 and '2000' are the same value; UTF-8 text stays as it is."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def causes(label: Mapping[str, Any]) -> list[dict[str, str]]:
    """A label's cause as a list of segments (a dict is one segment; a list is several at once)."""
    raw = label["cause"]
    items = raw if isinstance(raw, list) else [raw]
    return [{str(d): _text(v) for d, v in item.items()} for item in items]


def load_labels(dataset: Path = DATASET) -> list[dict[str, Any]]:
    """labels.yaml entries whose case file is present (the held-out cases are not)."""
    labels = yaml.safe_load((Path(dataset) / "labels.yaml").read_text(encoding="utf-8")) or []
    return [lab for lab in labels if (Path(dataset) / "cases" / f"{lab['data']}.csv").is_file()]


def scenario_name(label: Mapping[str, Any]) -> str:
    """A folder name from the case's file name (spaces and '+' become '_')."""
    return "rs-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in str(label["data"]))


def convert(label: Mapping[str, Any], *, out: Path, dataset: Path = DATASET) -> Path:
    """Write one labelled case as a scenario folder at ``out`` and return ``out``."""
    src = Path(dataset) / "cases" / f"{label['data']}.csv"
    frame = pd.read_csv(src, dtype=str, encoding="utf-8", keep_default_na=False)
    missing = [c for c in MEASURES if c not in frame.columns]
    if missing:
        raise ValueError(f"{src}: missing column(s) {', '.join(missing)}")
    dims = [c for c in frame.columns if c not in MEASURES]
    detected = int(label["timestamp"])
    frame["min"] = frame["min"].astype("int64")
    frame = frame[frame["min"] <= detected]           # nothing after the labelled minute
    if frame.empty or not (frame["min"] < detected).any():
        raise ValueError(f"{src}: no minute before the labelled one {detected}")
    frame[TS] = pd.to_datetime(frame["min"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")
    table = frame[[TS, *dims, "value", "cnt"]].sort_values([TS, *dims], kind="stable")

    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "data" / f"{TABLE}.csv", index=False, encoding="utf-8")
    catalog = {
        "dialect": "duckdb",
        "grain": "minute",
        "metrics": {METRIC: {
            "description": "Share of viewers whose live stream stalled in the minute (RS dataset).",
            "table": TABLE, "timestamp": TS, "value": "sum(value) / sum(cnt)",
            "dimensions": dims, "higher_is_worse": True}},
        "pii": {},
    }
    (out / "catalog.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True, width=200),
                                      encoding="utf-8")
    at = datetime.fromtimestamp(detected, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    incident = {"id": f"RS-{label['data']}", "title": "Live-stream stall rate spiked",
                "description": "Viewers' stall rate alarmed; which viewers are stalling?",
                "severity": "SEV2", "status": "open", "metric": METRIC, "detected_at": at}
    (out / "incident.json").write_text(json.dumps(incident, ensure_ascii=False, indent=1), encoding="utf-8")
    segs = causes(label)
    truth = {"root_cause": {"kind": "segment", "id": segment_id(segs[0])}, "segment": segs[0],
             "segments": [segment_id(s) for s in segs], "dims": max(len(s) for s in segs),
             "family": f"rs-{'multi' if len(segs) > 1 else str(len(segs[0])) + 'd'}"}
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def convert_all(out: Path, dataset: Path = DATASET, *, force: bool = False) -> list[Path]:
    """Every present case into ``out/<name>``; existing folders are kept unless ``force``."""
    folders = []
    for label in load_labels(dataset):
        folder = Path(out) / scenario_name(label)
        if force or not (folder / "truth.json").is_file():
            convert(label, out=folder, dataset=dataset)
        folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.riskloc", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "scenarios" / "rs")
    p.add_argument("--dataset", type=Path, default=DATASET)
    args = p.parse_args(argv)
    folders = convert_all(args.out, args.dataset, force=True)
    print(f"wrote {len(folders)} scenarios into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Adtributor, HotSpot-style and top single-value baselines on a converted RS-like scenario."""

from pathlib import Path

import pandas as pd
import yaml

from evals.baselines import adtributor, hotspot, top_value_change
from evals.riskloc import convert


def _scenario(tmp_path: Path) -> Path:
    """bitrate=2000 AND p2p=1 stalls in the last minute; everything else stays at 2%."""
    rows = []
    for minute in range(8):
        for bitrate in (500, 2000, 4000):
            for p2p in (0, 1):
                for cdn in (3, 5):
                    hit = minute == 7 and bitrate == 2000 and p2p == 1
                    rows.append({"min": 1_599_999_960 + 60 * minute, "value": 60 if hit else 4, "cnt": 200,
                                 "bitrate": bitrate, "p2p": p2p, "cdn": cdn})
    (tmp_path / "cases").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "cases" / "c.csv", index=False)
    label = {"data": "c", "timestamp": 1_599_999_960 + 420, "cause": {"bitrate": 2000, "p2p": 1}}
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump([label]))
    return convert(label, out=tmp_path / "sc", dataset=tmp_path)


def test_adtributor_returns_single_values_of_the_most_surprising_dimensions(tmp_path: Path) -> None:
    ids = [rc["id"] for rc in adtributor(_scenario(tmp_path))["root_causes"]]
    assert set(ids) >= {"bitrate=2000", "p2p=1"}
    assert all("," not in i for i in ids)                    # Adtributor never combines dimensions


def test_hotspot_finds_the_conjunction(tmp_path: Path) -> None:
    report = hotspot(_scenario(tmp_path))
    assert report["root_causes"][0]["id"] == "bitrate=2000,p2p=1"


def test_top_value_change_claims_one_value(tmp_path: Path) -> None:
    causes = top_value_change(_scenario(tmp_path))["root_causes"]
    assert causes[0]["id"] in {"bitrate=2000", "p2p=1"} and causes[0]["score"] == 1.0
    assert all(rc["score"] == 0.0 for rc in causes[1:])

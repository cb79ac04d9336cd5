"""The RS converter: the contract's folder, nothing after the labelled minute, UTF-8 values, the truth's ids."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evals.riskloc import causes, convert, segment_id


def _dataset(tmp_path: Path, cause: object) -> tuple[Path, dict]:
    rows = []
    for minute in range(6):
        t = 1_599_999_960 + 60 * minute
        for isp in ("电信", "移动"):
            for bitrate in (500, 2000):
                rows.append({"min": t, "value": 5 if (minute == 4 and isp == "移动") else 1, "cnt": 100,
                             "bitrate": bitrate, "isp": isp})
    (tmp_path / "cases").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "cases" / "c1.csv", index=False, encoding="utf-8")
    label = {"data": "c1", "timestamp": 1_599_999_960 + 240, "cause": cause}
    (tmp_path / "labels.yaml").write_text(yaml.safe_dump([label], allow_unicode=True), encoding="utf-8")
    return tmp_path, label


def test_convert_writes_the_contract_and_nothing_after_the_labelled_minute(tmp_path: Path) -> None:
    dataset, label = _dataset(tmp_path, {"isp": "移动", "bitrate": 2000})
    out = convert(label, out=tmp_path / "sc", dataset=dataset)
    data = pd.read_csv(out / "data" / "stalls.csv", dtype=str, encoding="utf-8")
    assert data["minute"].max() == "2020-09-13 12:30:00"          # the labelled minute, not the one after
    assert set(data["isp"]) == {"电信", "移动"}
    catalog = yaml.safe_load((out / "catalog.yaml").read_text(encoding="utf-8"))
    metric = catalog["metrics"]["stall_rate"]
    assert catalog["grain"] == "minute" and metric["value"] == "sum(value) / sum(cnt)"
    assert metric["dimensions"] == ["bitrate", "isp"] and metric["higher_is_worse"] is True
    incident = json.loads((out / "incident.json").read_text(encoding="utf-8"))
    assert incident["detected_at"] == "2020-09-13T12:30:00Z" and "window" not in incident
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth["root_cause"] == {"kind": "segment", "id": "bitrate=2000,isp=移动"}
    assert truth["dims"] == 2 and truth["segments"] == ["bitrate=2000,isp=移动"]


def test_several_segments_are_all_in_the_truth(tmp_path: Path) -> None:
    dataset, label = _dataset(tmp_path, [{"bitrate": 500}, {"bitrate": 2000}])
    truth = json.loads((convert(label, out=tmp_path / "sc", dataset=dataset) / "truth.json").read_text())
    assert truth["segments"] == ["bitrate=500", "bitrate=2000"] and truth["family"] == "rs-multi"


def test_segment_id_sorts_dimensions_and_keeps_text() -> None:
    assert segment_id({"p2p": 1, "bitrate": 2000.0, "isp": "联通"}) == "bitrate=2000,isp=联通,p2p=1"
    assert causes({"cause": {"cdn": 5}}) == [{"cdn": "5"}]


def test_a_case_without_history_is_refused(tmp_path: Path) -> None:
    dataset, label = _dataset(tmp_path, {"isp": "移动"})
    label = {**label, "timestamp": 1_599_999_960}
    with pytest.raises(ValueError, match="no minute before"):
        convert(label, out=tmp_path / "sc", dataset=dataset)

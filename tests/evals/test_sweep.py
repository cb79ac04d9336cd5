"""The stress sweep: unseen seeds, other volumes, with and without the responder's filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.generator import FAMILIES
from evals.sweep import FIRST_SEED, main, sweep_names


def test_the_sweep_covers_every_family_volume_and_filter_setting_on_seeds_the_suite_never_uses():
    names = sweep_names(seeds=2, volumes=[0.25, 2.0])
    assert len(names) == len(FAMILIES) * 2 * 2 * 2 and len({n for n, *_ in names}) == len(names)
    assert min(seed for _, _, seed, _, _ in names) == FIRST_SEED > 107       # the held-out seeds end at 107
    assert {(f, v, filt) for _, f, _, v, filt in names} == {(f, v, filt) for f in FAMILIES for v in (0.25, 2.0)
                                                          for filt in (True, False)}


def test_the_sweep_writes_scenarios_whose_truth_names_their_family(tmp_path: Path):
    assert main(["--out", str(tmp_path), "--seeds", "1", "--volumes", "0.5", "--only", "metric_drop"]) == 0
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["metric_drop-s1-v0.5-all", "metric_drop-s1-v0.5-filtered"]
    for name in folders:
        truth = json.loads((tmp_path / name / "truth.json").read_text())
        assert truth["family"] == "metric_drop" and truth["params"]["volume"] == 0.5
    filtered = json.loads((tmp_path / folders[1] / "incident.json").read_text())
    assert filtered.get("filters")
    assert not json.loads((tmp_path / folders[0] / "incident.json").read_text()).get("filters")


def test_bad_volumes_are_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--out", str(tmp_path), "--volumes", "a,b"]) == 2
    assert "--volumes" in capsys.readouterr().err

"""The metric's cells as the warehouse returns them: grouped by every key and ordered by every key."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from tools.catalog import MetricDef
from tools.metric_sql import metric_cells

METRIC = MetricDef(name="r", table="ev", timestamp="ts", value="avg(case when flag then 1.0 else 0.0 end)",
                   dimensions=["region", "platform"])


def test_cells_come_back_in_one_order_whatever_the_aggregate_returns():
    # The refuters draw random subsets of these rows by position: their order must not depend on how a
    # parallel hash aggregate happened to emit the groups.
    rng = np.random.default_rng(0)
    n = 60_000
    ev = pd.DataFrame({"ts": pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.integers(0, 48 * 60, n), unit="m"),
                       "region": rng.choice(["EU", "NA", "APAC", "LATAM"], n),
                       "platform": rng.choice(["ios", "android", "web"], n), "flag": rng.random(n) < 0.1})
    q = metric_cells(METRIC, dialect="duckdb", grain="hour", group_by=["region", "platform"],
                     start=datetime(2026, 3, 1), end=datetime(2026, 3, 1) + timedelta(hours=48))
    sql = q.sql(dialect="duckdb")
    con = duckdb.connect()
    con.register("ev", ev)
    con.execute("SET threads TO 4")
    frames = [con.execute(sql).df() for _ in range(3)]
    assert all(f.equals(frames[0]) for f in frames)
    keys = frames[0][["bucket", "region", "platform"]]
    assert keys.equals(keys.sort_values(["bucket", "region", "platform"]).reset_index(drop=True))
    assert 'ORDER BY "bucket", "region", "platform"' in sql

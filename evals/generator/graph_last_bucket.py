"""Family ``graph_last_bucket``: one upstream metric spikes in the very last minute of the data (minute grain).

Graph: consent_db_latency_ms -> consent_store_latency_ms <- consent_cache_miss_rate, consent_store_latency_ms ->
consent_api_latency_ms <- geo_lookup_latency_ms. One row per minute and API host. In the last minute of the
data one root spikes (a slow database, a cold cache, a slow geo lookup) and the API latency with it; the
responder files the incident at once, with the window exactly that minute (start = the row's minute, end one
minute later). The truth is the root that spiked; the other roots are decoys with their own noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evals.generator.assemble import Knobs, World, finish, resolve_knobs
from evals.generator.bundle import Bundle
from evals.generator.common import BASE_DATE, DAY, HOUR, ChangeLog, IdMaker, TextPicker, Timeline, iso

FAMILY = "graph_last_bucket"
TARGET = "consent_api_latency_ms"
HOSTS = ["api-1", "api-2", "api-3"]
ROOTS = ("consent_db_latency_ms", "consent_cache_miss_rate", "geo_lookup_latency_ms")
DEFAULT_EFFECT = {"consent_db_latency_ms": 1.5, "consent_cache_miss_rate": 3.0, "geo_lookup_latency_ms": 1.5}
GRAPH = [["consent_db_latency_ms", "consent_store_latency_ms"], ["consent_cache_miss_rate", "consent_store_latency_ms"],
         ["consent_store_latency_ms", TARGET], ["geo_lookup_latency_ms", TARGET]]
TITLES = ["Consent API latency spike", "Consent banner slow right now", "p50 latency alert on the consent API"]
DESCRIPTIONS = [
    "The latency alert on the consent API fired this minute; the banner is slow to load.",
    "Synthetic checks saw the consent endpoint slow down sharply in the last minute.",
    "Consent API average latency jumped; users may see the page without a banner decision.",
]


def _metrics() -> dict[str, object]:
    table = {"table": "consent_api_minutely", "timestamp": "minute"}

    def metric(description: str, column: str, dims: list[str]) -> dict[str, object]:
        return {**table, "description": description, "value": f"avg({column})", "dimensions": dims,
                "higher_is_worse": True}

    return {
        TARGET: metric("Average consent API response time per request, in ms.", "api_latency_ms", ["host"]),
        "consent_store_latency_ms": metric("Consent store read time per request, in ms.", "store_latency_ms", []),
        "consent_db_latency_ms": metric("Consent database query time, in ms.", "db_latency_ms", []),
        "consent_cache_miss_rate": metric("Share of consent reads missing the cache.", "cache_miss_rate", []),
        "geo_lookup_latency_ms": metric("Geo lookup (for the region's consent rules) time, in ms.",
                                        "geo_latency_ms", []),
    }


def _ar(rng: np.random.Generator, shape: tuple[int, int], sigma: float, phi: float = 0.6) -> np.ndarray:
    out = np.empty(shape)
    out[0] = rng.normal(0, sigma, shape[1])
    for i in range(1, shape[0]):
        out[i] = phi * out[i - 1] + rng.normal(0, sigma * np.sqrt(1 - phi**2), shape[1])
    return out


def build(rng: np.random.Generator, *, size: str, spiked: str | None = None, effect: float | None = None,
          days: float | None = None, noise: float = 0.08, volume: float = 1.0, window: bool | None = None,
          filters: bool | None = None, similar: bool | None = None) -> Bundle:
    """``effect`` is the spiking root's relative jump in the last minute (1.5 = 150% slower); ``volume`` scales
    the number of minutes of history (``size`` large = four times as many)."""
    del window, filters  # the window is the last minute, always given
    spiked = spiked or ROOTS[int(rng.integers(0, len(ROOTS)))]
    if spiked not in ROOTS:
        raise ValueError(f"spiked must be one of {ROOTS}, got {spiked!r}")
    knobs = resolve_knobs(rng, window=False, filters=False, similar=similar)
    effect = DEFAULT_EFFECT[spiked] if effect is None else float(effect)
    days = float(rng.integers(1, 3)) if days is None else float(days)
    n = max(60, int(days * 24 * 60 * volume * (4 if size == "large" else 1)))
    start = BASE_DATE + DAY * int(rng.integers(20, 140)) + HOUR * int(rng.integers(0, 24))
    tl = Timeline(start=start, end=start + n * 60, grain="minute")
    last = tl.end - 60
    minutes = start + 60 * np.arange(n)
    h = len(HOSTS)
    spike = (minutes == last)[:, None].astype(float)
    db = 15.0 * np.exp(_ar(rng, (n, 1), noise)) * (1 + effect * spike * (spiked == ROOTS[0]))
    miss = 0.08 * np.exp(_ar(rng, (n, 1), 2 * noise)) * (1 + effect * spike * (spiked == ROOTS[1]))
    geo = 20.0 * np.exp(_ar(rng, (n, 1), noise)) * (1 + effect * spike * (spiked == ROOTS[2]))
    db_h = db * np.exp(rng.normal(0, noise / 2, (n, h)))
    miss_h = np.clip(miss * np.exp(rng.normal(0, noise / 2, (n, h))), 0, 1)
    geo_h = geo * np.exp(rng.normal(0, noise / 2, (n, h)))
    store = db_h * (1 + 5 * miss_h) + rng.normal(0, 0.5, (n, h))
    api = 10.0 + store + geo_h + rng.normal(0, 1.0, (n, h))
    frame = pd.DataFrame({"minute": np.repeat(minutes, h), "host": np.tile(HOSTS, n),
                          "api_latency_ms": np.round(api.ravel(), 2), "store_latency_ms": np.round(store.ravel(), 2),
                          "db_latency_ms": np.round(db_h.ravel(), 2), "cache_miss_rate": np.round(miss_h.ravel(), 4),
                          "geo_latency_ms": np.round(geo_h.ravel(), 2)})
    ids = IdMaker(rng)
    log = ChangeLog(rng, ids, TextPicker(rng))
    log.background(tl, int(rng.integers(3, 7)), pools=["consent", "generic"], sources=["deployments",
                   "config_changes"], avoid=(last - 2 * HOUR, tl.end))
    w = World(rng=rng, size=size, tl=tl, onset=last, pop=None, ev=None, theme=None, p=None,  # type: ignore
              ids=ids, log=log, knobs=Knobs(window=False, filters=False, similar=knobs.similar))
    params = {"spiked": spiked, "effect": effect, "days": days, "noise": noise, "volume": volume, "window": True,
              "similar": knobs.similar}
    bundle = finish(w, family=FAMILY, params=params, metrics=_metrics(),
                    tables={"consent_api_minutely": frame, **log.tables()},
                    root_cause={"kind": "upstream", "id": spiked}, segment=None, history_kind="upstream",
                    pii={}, graph=GRAPH, count_units=False)
    bundle.incident["title"] = TITLES[int(rng.integers(0, len(TITLES)))]
    bundle.incident["description"] = DESCRIPTIONS[int(rng.integers(0, len(DESCRIPTIONS)))]
    bundle.incident["window"] = {"start": iso(last), "end": iso(tl.end)}
    return bundle

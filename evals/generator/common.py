"""Shared simulation blocks: time axis, users, event traffic, noisy seasonal rates, changes, experiments.

Everything is driven by one ``numpy.random.Generator`` and works in integer epoch seconds (UTC), so a
scenario is a pure function of (family, seed, params): no wall clock, no hash-order dependence.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evals.generator.texts import CHANGE_TEXTS, FLAG_NAMES

GRAIN_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
HOUR = 3600
DAY = 86400
PLATFORMS = ("ios", "android", "web")
REGIONS = ("EU", "NA", "APAC", "LATAM")
REGION_UTC_OFFSET = np.array([1, -5, 8, -3])  # hours, for local-time traffic peaks
APP_VERSIONS = {
    "ios": (["31.2.0", "31.1.4", "31.1.2", "30.9.1"], [0.45, 0.32, 0.16, 0.07]),
    "android": (["31.2.1", "31.1.4", "31.0.3", "30.8.0"], [0.38, 0.34, 0.18, 0.10]),
    "web": (["31.2.0", "31.1.9"], [0.7, 0.3]),
}
VERSION_LIST = sorted({v for versions, _ in APP_VERSIONS.values() for v in versions})
SIZES = ("small", "large")
SIZE_ROWS = {"small": 12_000, "large": 2_000_000}
BASE_DATE = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())  # a Monday


def family_rng(family: str, seed: int) -> np.random.Generator:
    """A generator keyed by family and seed (crc32, not ``hash()``, so it is stable across processes)."""
    return np.random.default_rng([int(seed), zlib.crc32(family.encode())])


def iso(ts: int) -> str:
    """Epoch seconds -> ``2026-03-14T09:00:00Z``."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor(ts: int, seconds: int) -> int:
    return int(ts) // seconds * seconds


def segment_id(segment: dict[str, str]) -> str:
    """The spec's segment id: ``dim=value[,dim=value]`` sorted by dimension name."""
    return ",".join(f"{k}={segment[k]}" for k in sorted(segment))


@dataclass(frozen=True)
class Coded:
    """A string column as integer codes into ``values`` (dictionary encoding): no Python object per row,
    which is what keeps a 2M-row table fast to build and to write as Parquet."""

    codes: np.ndarray
    values: np.ndarray

    def decode(self) -> np.ndarray:
        return np.asarray(self.values, dtype=object)[self.codes]

    def __len__(self) -> int:
        return len(self.codes)


Column = np.ndarray | Coded
ColumnTable = dict[str, Column]


def to_frame(table: ColumnTable | pd.DataFrame) -> pd.DataFrame:
    """Decode a column table into a DataFrame (for CSV and for tests)."""
    if isinstance(table, pd.DataFrame):
        return table
    return pd.DataFrame({k: v.decode() if isinstance(v, Coded) else v for k, v in table.items()})


def take(table: ColumnTable, index: np.ndarray) -> ColumnTable:
    """Rows ``index`` of a column table (codes are reindexed, dictionaries kept)."""
    return {k: Coded(v.codes[index], v.values) if isinstance(v, Coded) else v[index] for k, v in table.items()}


# ---------------------------------------------------------------------------------------------------------
# time


@dataclass(frozen=True)
class Timeline:
    """Data span ``[start, end)`` where ``end`` is the detection time, plus the analysis grain."""

    start: int
    end: int
    grain: str

    @property
    def bucket(self) -> int:
        return GRAIN_SECONDS[self.grain]

    @property
    def slot(self) -> int:
        """Simulation slot: a minute for minute grain, else an hour (traffic and noise vary per slot)."""
        return 60 if self.grain == "minute" else HOUR

    def floor(self, ts: int) -> int:
        return floor(ts, self.bucket)


def make_timeline(rng: np.random.Generator, *, grain: str, history_hours: float, onset_hour: float,
                  lag_buckets: int, day_offset: int | None = None) -> tuple[Timeline, int]:
    """Place the onset on a random date at ``onset_hour`` (plus random minutes) and data around it.

    Returns the timeline and the onset (epoch seconds). Data ends at detection = onset bucket + lag.
    """
    day = BASE_DATE + DAY * int(day_offset if day_offset is not None else rng.integers(20, 140))
    minute = int(rng.integers(0, 12 if grain == "minute" else 60))
    onset = day + int(onset_hour * HOUR) + minute * 60 + int(rng.integers(0, 60))
    bucket = GRAIN_SECONDS[grain]
    end = floor(onset, bucket) + lag_buckets * bucket
    start = onset - int(history_hours * HOUR)
    start = floor(start, HOUR) if grain == "minute" else floor(start, DAY)
    return Timeline(start=start, end=end, grain=grain), onset


# ---------------------------------------------------------------------------------------------------------
# ids and text


def base36(values: np.ndarray, width: int) -> np.ndarray:
    """Vectorised fixed-width base-36 strings (lowercase)."""
    alphabet = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    v = values.astype(np.int64).copy()
    out = np.empty((len(v), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = alphabet[v % 36]
        v //= 36
    return out.view(f"S{width}").ravel().astype(str)


def hexes(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    alphabet = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out = alphabet[rng.integers(0, 16, size=(n, width))]
    return out.view(f"S{width}").ravel().astype(str)


def unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct random integers in ``[low, high)``, in random (seeded) order."""
    got = np.empty(0, dtype=np.int64)
    while len(got) < n:
        more = rng.integers(low, high, size=int((n - len(got)) * 1.2) + 8)
        got = pd.unique(np.concatenate([got, more]))
    return got[:n]


class IdMaker:
    """Random-looking, unique ids per prefix (``deploy-4821``): the number says nothing about the answer."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def make(self, prefix: str, digits: int = 4) -> str:
        low, high = 10 ** (digits - 1), 10**digits
        while True:
            ident = f"{prefix}{int(self._rng.integers(low, high))}"
            if ident not in self._used:
                self._used.add(ident)
                return ident


def version(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(2, 12))}.{int(rng.integers(0, 30))}.{int(rng.integers(0, 9))}"


class TextPicker:
    """Draws change-log lines without replacement, so no two changes share a summary."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used: set[tuple[str, str]] = set()

    def pick(self, pool: str) -> tuple[str, str]:
        items = [t for t in CHANGE_TEXTS[pool] if t not in self._used]
        if not items:
            items = list(CHANGE_TEXTS[pool])
        service, text = items[int(self._rng.integers(0, len(items)))]
        self._used.add((service, text))
        text = text.replace("{v}", version(self._rng)).replace("{n}", str(int(self._rng.integers(2, 20)) * 50))
        return service, text


# ---------------------------------------------------------------------------------------------------------
# users and traffic


@dataclass
class Population:
    """Users with fixed platform/region/app version, pii attributes and an activity weight."""

    user_id: np.ndarray
    platform: np.ndarray
    region: np.ndarray
    app_code: np.ndarray  # index into VERSION_LIST
    device_id: np.ndarray
    ip_address: np.ndarray
    activity: np.ndarray

    def __len__(self) -> int:
        return len(self.user_id)


def share_weights(rng: np.random.Generator, base: list[float], jitter: float = 0.15) -> np.ndarray:
    w = np.asarray(base, dtype=float) * np.exp(rng.normal(0, jitter, size=len(base)))
    return w / w.sum()


def make_population(rng: np.random.Generator, n_users: int, *, platform_share: np.ndarray,
                    region_share: np.ndarray) -> Population:
    """Draw ``n_users`` users; every (platform, region) cell gets at least a few."""
    n_users = max(int(n_users), 200)
    platform = rng.choice(len(PLATFORMS), size=n_users, p=platform_share).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n_users, p=region_share).astype(np.int8)
    cells = np.arange(len(PLATFORMS) * len(REGIONS))
    platform[: len(cells) * 5] = np.repeat(cells // len(REGIONS), 5)
    region[: len(cells) * 5] = np.repeat(cells % len(REGIONS), 5)
    app_code = np.zeros(n_users, dtype=np.int64)
    for p, name in enumerate(PLATFORMS):
        idx = np.flatnonzero(platform == p)
        versions, weights = APP_VERSIONS[name]
        codes = np.asarray([VERSION_LIST.index(v) for v in versions])
        app_code[idx] = codes[rng.choice(len(versions), size=len(idx), p=weights)]
    user_id = np.char.add("u", base36(unique_ints(rng, n_users, 36**6, 36**7), 7))
    device_id = hexes(rng, n_users, 16)
    octets = [rng.integers(11, 224, size=n_users)] + [rng.integers(0, 256, size=n_users) for _ in range(2)]
    octets.append(rng.integers(1, 255, size=n_users))
    octets[0] = np.where(np.isin(octets[0], [127, 172, 192, 169, 100]), octets[0] + 1, octets[0])
    parts = [pa.array(o).cast(pa.string()) for o in octets]
    ip_address = pc.binary_join_element_wise(*parts, ".").to_numpy(zero_copy_only=False)
    activity = rng.lognormal(0.0, 1.0, size=n_users)
    return Population(user_id=user_id, platform=platform, region=region, app_code=app_code,
                      device_id=device_id, ip_address=ip_address, activity=activity)


@dataclass
class Events:
    """Event rows (sorted by time): epoch seconds, user index, platform and region codes, slot index."""

    ts: np.ndarray
    user: np.ndarray
    platform: np.ndarray
    region: np.ndarray
    slot: np.ndarray
    slot_starts: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.ts)

    def hour_utc(self) -> np.ndarray:
        return (self.ts % DAY) / HOUR

    def local_hour(self) -> np.ndarray:
        return (self.hour_utc() + REGION_UTC_OFFSET[self.region]) % 24


def weekend_mask(ts: np.ndarray, offset_hours: np.ndarray | int = 0) -> np.ndarray:
    """Saturday/Sunday in local time (1970-01-01 was a Thursday)."""
    days = (ts + np.asarray(offset_hours) * HOUR) // DAY
    return ((days + 3) % 7) >= 5


def simulate_traffic(rng: np.random.Generator, pop: Population, tl: Timeline, *, n_rows: int,
                     diurnal: float = 0.6, weekend: float = 0.15, peak_local: float = 15.0) -> Events:
    """Poisson event counts per (slot, platform, region), heavier in each region's local daytime."""
    slot_starts = np.arange(tl.start, tl.end, tl.slot, dtype=np.int64)
    mid = slot_starts + tl.slot // 2
    n_p, n_r = len(PLATFORMS), len(REGIONS)
    reg_w = np.zeros((n_p, n_r))
    np.add.at(reg_w, (pop.platform, pop.region), pop.activity)
    cell_share = (reg_w / reg_w.sum()).ravel()
    local = ((mid[:, None] % DAY) / HOUR + REGION_UTC_OFFSET[None, :]) % 24
    traffic = 1.0 + diurnal * np.cos(2 * np.pi * (local - peak_local) / 24)
    traffic *= np.where(weekend_mask(mid[:, None], REGION_UTC_OFFSET[None, :]), 1.0 - weekend, 1.0)
    weights = traffic[:, np.tile(np.arange(n_r), n_p)] * cell_share[None, :]
    lam = n_rows * weights / weights.sum()
    counts = rng.poisson(lam)
    slot_idx, cell_idx = np.nonzero(counts)
    reps = counts[slot_idx, cell_idx]
    slot = np.repeat(slot_idx, reps)
    cell = np.repeat(cell_idx, reps)
    ts = slot_starts[slot] + rng.integers(0, tl.slot, size=len(slot))
    user = np.empty(len(slot), dtype=np.int64)
    user_cell = pop.platform.astype(np.int64) * n_r + pop.region
    for c in range(n_p * n_r):
        rows = np.flatnonzero(cell == c)
        members = np.flatnonzero(user_cell == c)
        if len(rows) == 0:
            continue
        w = pop.activity[members]
        user[rows] = members[rng.choice(len(members), size=len(rows), p=w / w.sum())]
    order = np.argsort(ts, kind="stable")
    ts, user, slot = ts[order], user[order], slot[order]
    return Events(ts=ts, user=user, platform=pop.platform[user], region=pop.region[user], slot=slot,
                  slot_starts=slot_starts)


def population_for(rng: np.random.Generator, n_rows: int, *, events_per_user: float = 4.0) -> Population:
    """A population sized so each user has ``events_per_user`` events on average."""
    return make_population(rng, int(n_rows / events_per_user),
                           platform_share=share_weights(rng, [0.36, 0.44, 0.20]),
                           region_share=share_weights(rng, [0.32, 0.28, 0.24, 0.16]))


# ---------------------------------------------------------------------------------------------------------
# rates


def ar_noise(rng: np.random.Generator, n: int, k: int, sigma: float, phi: float = 0.6) -> np.ndarray:
    """Multiplicative AR(1) noise (n slots x k groups) with log-sd ``sigma``: bursts last a few slots."""
    eps = rng.normal(0, sigma * np.sqrt(1 - phi**2), size=(n, k))
    out = np.empty((n, k))
    out[0] = rng.normal(0, sigma, size=k)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return np.exp(out - sigma**2 / 2)


def baseline_rate(rng: np.random.Generator, ev: Events, *, base: float, noise: float, diurnal: float = 0.15,
                  weekly: float = 0.0, peak_utc: float = 15.0, cell_spread: float = 0.2) -> np.ndarray:
    """Per-row probability: base x cell multiplier x daily/weekly seasonality x AR noise per (slot, region).

    A rate near 1 (prompt shown, job completed) is modelled through its complement, so the multiplicative
    factors never push it past 1 and clipping never hides an effect.
    """
    if base > 0.5:
        return 1.0 - baseline_rate(rng, ev, base=1.0 - base, noise=noise, diurnal=diurnal, weekly=weekly,
                                   peak_utc=peak_utc, cell_spread=cell_spread)
    cell_mult = np.exp(rng.normal(0, cell_spread, size=(len(PLATFORMS), len(REGIONS))))
    seasonal = 1.0 + diurnal * np.cos(2 * np.pi * (ev.hour_utc() - peak_utc) / 24)
    if weekly:
        seasonal = seasonal * np.where(weekend_mask(ev.ts), 1.0 + weekly, 1.0)
    slot_noise = ar_noise(rng, len(ev.slot_starts), len(REGIONS), noise)
    return base * cell_mult[ev.platform, ev.region] * seasonal * slot_noise[ev.slot, ev.region]


def scope_mask(ev: Events, pop: Population, scope: dict[str, str]) -> np.ndarray:
    """Rows inside a change's scope (missing dimension = all values)."""
    mask = np.ones(len(ev), dtype=bool)
    if "platform" in scope:
        mask &= ev.platform == PLATFORMS.index(scope["platform"])
    if "region" in scope:
        mask &= ev.region == REGIONS.index(scope["region"])
    if "app_version" in scope:
        mask &= pop.app_code[ev.user] == VERSION_LIST.index(scope["app_version"])
    return mask


def ramp(ts: np.ndarray, onset: int, ramp_seconds: int = 0) -> np.ndarray:
    """0 before ``onset``, rising linearly to 1 over ``ramp_seconds`` (a step when 0)."""
    if ramp_seconds <= 0:
        return (ts >= onset).astype(float)
    return np.clip((ts - onset) / ramp_seconds, 0.0, 1.0) * (ts >= onset)


def draw(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return rng.random(len(p)) < np.clip(p, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------
# changes


CHANGE_SOURCES: dict[str, dict[str, str]] = {
    "deployments": {"table": "deployments", "id": "deploy_id", "timestamp": "deployed_at", "prefix": "deploy-",
                    "digits": "4", "extra": "service"},
    "config_changes": {"table": "config_changes", "id": "change_id", "timestamp": "changed_at",
                       "prefix": "cfg-", "digits": "5", "extra": "service"},
    "flag_flips": {"table": "flag_flips", "id": "flip_id", "timestamp": "flipped_at", "prefix": "flip-",
                   "digits": "4", "extra": "flag"},
}


@dataclass
class Change:
    """One row of a change table; ``scope`` lists only restricted dimensions (others = all values)."""

    source: str
    id: str
    ts: int
    scope: dict[str, str]
    text: str
    extra: str

    @property
    def summary(self) -> str:
        """The change-log line: service, what changed, and the scope tag every change carries alike."""
        tag = ", ".join(self.scope[k] for k in ("platform", "region", "app_version") if k in self.scope)
        return self.text + (f" [{tag}]" if tag else "")


class ChangeLog:
    """Builds change tables whose true cause and decoys are indistinguishable by id or wording."""

    def __init__(self, rng: np.random.Generator, ids: IdMaker, texts: TextPicker) -> None:
        self.rng = rng
        self.ids = ids
        self.texts = texts
        self.changes: list[Change] = []

    def add(self, source: str, ts: int, scope: dict[str, str], pool: str) -> Change:
        spec = CHANGE_SOURCES[source]
        service, text = self.texts.pick(pool)
        extra = service
        if source == "flag_flips":
            extra = FLAG_NAMES[int(self.rng.integers(0, len(FLAG_NAMES)))]
            verb = ["Enable", "Ramp to 50%:", "Ramp to 100%:", "Disable"][int(self.rng.integers(0, 4))]
            text = f"{verb} {extra} ({text[0].lower() + text[1:]})"
        change = Change(source=source, id=self.ids.make(spec["prefix"], int(spec["digits"])), ts=int(ts),
                        scope=dict(scope), text=f"{service}: {text}", extra=extra)
        self.changes.append(change)
        return change

    def background(self, tl: Timeline, n: int, *, pools: list[str], sources: list[str],
                   avoid: tuple[int, int] | None = None) -> None:
        """Unrelated changes spread over the data span (outside ``avoid``), with random scopes."""
        for _ in range(n):
            while True:
                ts = int(self.rng.integers(tl.start + HOUR, tl.end - HOUR))
                if avoid is None or not (avoid[0] <= ts < avoid[1]):
                    break
            pool = pools[int(self.rng.integers(0, len(pools)))]
            source = sources[int(self.rng.integers(0, len(sources)))]
            change = self.add(source, ts, random_scope(self.rng), pool)
            if change.extra.startswith("web-") and change.scope.get("platform", "web") != "web":
                change.scope["platform"] = "web"

    def tables(self, *, scope_dims: tuple[str, ...] = ("platform", "region")) -> dict[str, pd.DataFrame]:
        """One DataFrame per used source, sorted by time; 'all values' written as NULL and/or ``*``."""
        out: dict[str, pd.DataFrame] = {}
        for source, spec in CHANGE_SOURCES.items():
            rows = sorted((c for c in self.changes if c.source == source), key=lambda c: (c.ts, c.id))
            if not rows:
                continue
            style = ["null", "star", "mixed"][int(self.rng.integers(0, 3))]
            data: dict[str, list[object]] = {spec["id"]: [], spec["timestamp"]: [], spec["extra"]: []}
            for d in scope_dims:
                data[d] = []
            data["summary"] = []
            for c in rows:
                data[spec["id"]].append(c.id)
                data[spec["timestamp"]].append(c.ts)
                data[spec["extra"]].append(c.extra)
                for d in scope_dims:
                    star = style == "star" or (style == "mixed" and self.rng.random() < 0.5)
                    data[d].append(c.scope.get(d, "*" if star else None))
                data["summary"].append(c.summary)
            out[spec["table"]] = pd.DataFrame(data)
        return out

    def catalog(self, *, scope_dims: tuple[str, ...] = ("platform", "region")) -> dict[str, dict[str, object]]:
        used = {c.source for c in self.changes}
        return {
            source: {"table": spec["table"], "id": spec["id"], "timestamp": spec["timestamp"],
                     "description": "summary", "scope": list(scope_dims)}
            for source, spec in CHANGE_SOURCES.items() if source in used
        }


def random_scope(rng: np.random.Generator, *, exclude: dict[str, str] | None = None) -> dict[str, str]:
    """A scope like a real change: all, one platform, one region, or both; never equal to ``exclude``."""
    while True:
        r = rng.random()
        scope: dict[str, str] = {}
        if r < 0.3:
            pass
        elif r < 0.6:
            scope = {"platform": PLATFORMS[int(rng.integers(0, 3))]}
        elif r < 0.9:
            scope = {"region": REGIONS[int(rng.integers(0, 4))]}
        else:
            scope = {"platform": PLATFORMS[int(rng.integers(0, 3))], "region": REGIONS[int(rng.integers(0, 4))]}
        if exclude is None or scope != exclude:
            return scope


def disjoint_scope(rng: np.random.Generator, scope: dict[str, str]) -> dict[str, str]:
    """A scope that shares no rows with ``scope`` (another value of one of its dimensions)."""
    dim = sorted(scope)[int(rng.integers(0, len(scope)))]
    values = [v for v in (PLATFORMS if dim == "platform" else REGIONS) if v != scope[dim]]
    return {dim: values[int(rng.integers(0, len(values)))]}


# ---------------------------------------------------------------------------------------------------------
# experiments


@dataclass
class Experiment:
    """An experiment's assignments: users enter at their first event after ``start``."""

    id: str
    start: int
    table: ColumnTable
    treated_rows: np.ndarray  # event rows of treatment users at/after their assignment


def assign_experiment(rng: np.random.Generator, ev: Events, pop: Population, *, exp_id: str, start: int,
                      eligible: float, treatment_share: float = 0.5,
                      arms: tuple[str, str] = ("control", "treatment")) -> Experiment:
    """Randomize a share of users; assignment time = the user's first event at or after ``start``."""
    is_eligible = rng.random(len(pop)) < eligible
    is_treat = rng.random(len(pop)) < treatment_share
    after = np.flatnonzero(ev.ts >= start)
    users, first = np.unique(ev.user[after], return_index=True)
    keep = is_eligible[users]
    users, first_rows = users[keep], after[first[keep]]
    assigned_at = np.full(len(pop), np.iinfo(np.int64).max, dtype=np.int64)
    assigned_at[users] = ev.ts[first_rows]
    treated_rows = is_treat[ev.user] & (ev.ts >= assigned_at[ev.user])
    users = users[np.argsort(assigned_at[users], kind="stable")]
    table: ColumnTable = {
        "experiment_id": np.full(len(users), exp_id),
        "user_id": Coded(users, pop.user_id),
        "arm": Coded(is_treat[users].astype(np.int64), np.asarray(arms)),
        "assigned_at": assigned_at[users],
    }
    return Experiment(id=exp_id, start=start, table=table, treated_rows=treated_rows)


def concat_assignments(experiments: list[Experiment]) -> ColumnTable:
    """All experiments' assignments in one table, ordered by time, experiment and user."""
    exp_id = np.concatenate([e.table["experiment_id"] for e in experiments])  # type: ignore[arg-type]
    users = np.concatenate([e.table["user_id"].codes for e in experiments])  # type: ignore[union-attr]
    arm = np.concatenate([e.table["arm"].codes for e in experiments])  # type: ignore[union-attr]
    at = np.concatenate([e.table["assigned_at"] for e in experiments])  # type: ignore[arg-type]
    order = np.lexsort((users, exp_id, at))
    first = experiments[0].table
    return {"experiment_id": exp_id[order], "user_id": Coded(users[order], first["user_id"].values),  # type: ignore[union-attr]
            "arm": Coded(arm[order], first["arm"].values), "assigned_at": at[order]}  # type: ignore[union-attr]


def merge_events(a: Events, b: Events, *, keep_b_from: int = 0) -> tuple[Events, np.ndarray]:
    """Union of two event sets on ``a``'s slot grid (``b`` simulated on a sub-range), sorted by time.

    ``b`` rows before ``keep_b_from`` are dropped; also returns a mask of the rows that came from ``b``.
    """
    keep = b.ts >= keep_b_from
    slot_len = int(a.slot_starts[1] - a.slot_starts[0]) if len(a.slot_starts) > 1 else HOUR
    b_slot = (b.slot_starts[b.slot[keep]] - a.slot_starts[0]) // slot_len
    ts = np.concatenate([a.ts, b.ts[keep]])
    order = np.argsort(ts, kind="stable")
    from_b = np.concatenate([np.zeros(len(a), dtype=bool), np.ones(int(keep.sum()), dtype=bool)])[order]
    merged = Events(ts=ts[order], user=np.concatenate([a.user, b.user[keep]])[order],
                    platform=np.concatenate([a.platform, b.platform[keep]])[order],
                    region=np.concatenate([a.region, b.region[keep]])[order],
                    slot=np.concatenate([a.slot, b_slot])[order], slot_starts=a.slot_starts)
    return merged, from_b

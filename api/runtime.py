"""The warm parts of a running service, built once from settings: state DB, workspace, worker pool.

The app holds one; `rca batch` builds its own so the CLI runs the same code without HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from api.auth import KeyCache, RateLimiter
from api.db import make_engine, make_sessionmaker
from api.deps import WarmWorkspace
from api.investigations.worker import Worker
from api.metrics import Metrics
from api.migrate import upgrade
from tools.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    metrics: Metrics
    workspace: WarmWorkspace
    worker: Worker
    key_cache: KeyCache = field(default_factory=KeyCache)
    rate_limiter: RateLimiter | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Everything but I/O: the DB is migrated and the workspace opened by ``start``."""
        engine = make_engine(settings.app_db_url)
        sessions = make_sessionmaker(engine)
        metrics = Metrics()
        workspace = WarmWorkspace(settings)
        worker = Worker(sessions=sessions, workspace=workspace, metrics=metrics, workers=settings.workers,
                        max_attempts=settings.max_attempts, mode=settings.worker_mode)
        return cls(settings=settings, engine=engine, sessions=sessions, metrics=metrics, workspace=workspace,
                   worker=worker, rate_limiter=RateLimiter(settings.rate_limit_per_minute))

    def migrate(self) -> None:
        upgrade(self.engine)

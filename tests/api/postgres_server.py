"""A throwaway Postgres server for tests, from the machine's binaries (skipped where there are none)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yield a SQLAlchemy URL of a fresh server, or None when no server can be started here."""
    bindir = _bin()
    if bindir is None:
        yield None
        return
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root; run as the postgres user when there is one
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            yield None
            return
        run_as = ["runuser", "-u", "postgres", "--"]
    tmp = Path(tempfile.mkdtemp(prefix="rca-pg-"))
    data = tmp / "data"
    if run_as:
        shutil.chown(tmp, user="postgres")
    port = _free_port()
    init = subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "rca", "--auth=trust", "-E", "UTF8"],
                          capture_output=True, text=True)
    if init.returncode:
        shutil.rmtree(tmp, ignore_errors=True)
        yield None
        return
    server = subprocess.Popen([*run_as, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(tmp),
                               "-h", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            ok = subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True)
            if ok.returncode == 0:
                break
            time.sleep(0.1)
        else:
            yield None
            return
        subprocess.run([*run_as, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "rca", "rca"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://rca@127.0.0.1:{port}/rca"
    finally:
        # "fast" shutdown (does not wait for open client connections), as the server's own user
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"],
                       capture_output=True, timeout=60)
        server.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)

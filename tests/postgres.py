"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, a fresh data
folder in /tmp, listening on a free loopback port only; stopped and removed afterwards.

PostgreSQL refuses to run as root, so under root it runs as the `postgres` user (made by
Debian's package), else `nobody`. `make test` installs the package when it is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.server import free_port


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_binaries() -> Path:
    """The folder with initdb and pg_ctl: Debian keeps them under /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresMissing("no PostgreSQL server here: apt-get install postgresql (make test does)")


@dataclass
class Postgres:
    url: str
    folder: Path
    bin: Path
    user: str | None

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], user=self.user, capture_output=True, text=True,
                              timeout=timeout, cwd=self.folder)

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb, then pg_ctl start (waiting until it accepts connections); trust authentication
    on 127.0.0.1 only, no Unix socket."""
    binaries = server_binaries()
    user = None
    if os.geteuid() == 0:
        user = next((name for name in ("postgres", "nobody") if _user_exists(name)), None)
        if user is None:
            raise PostgresMissing("PostgreSQL will not run as root and there is no postgres or nobody user")
    folder = Path(tempfile.mkdtemp(prefix="pg-test-"))
    if user is not None:
        os.chown(folder, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    port = free_port()
    server = Postgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", folder, binaries, user)
    steps = [
        ("initdb", "-D", str(folder / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
         "--no-sync"),
        ("pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "server.log"), "-w", "-t", "60",
         "-o", f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories=''", "start"),
    ]
    for step in steps:
        result = server.run(*step)
        if result.returncode != 0:
            log = (folder / "server.log").read_text(errors="replace")[-2000:] if (folder / "server.log").exists() else ""
            server.stop()
            raise RuntimeError(f"{step[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}\n{log}")
    return server


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False

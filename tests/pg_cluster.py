"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` + ``pg_ctl``.

The cluster lives in a fresh temporary folder, listens on 127.0.0.1 on a free port and
asks for a password over TCP (scram-sha-256), so wrong credentials are refused as they
would be by a real server. :meth:`Cluster.stop` stops it and removes the folder.

The binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``);
``tests/install_postgresql.sh`` installs it. ``initdb`` refuses to run as root, so as root
the server runs as the ``postgres`` system user, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
PASSWORD = "s3cret-test-pw"  # a throwaway cluster's password: tests check it is never shown


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """A running cluster; ``url(database)`` is a SQLAlchemy URL with the password."""

    folder: Path
    port: int
    bin: Path
    as_postgres: bool

    def url(self, database: str = "postgres", *, password: str = PASSWORD,
            driver: str = "postgresql") -> str:
        return f"{driver}://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database (dropping one of that name first); its URL."""
        import psycopg

        connection = psycopg.connect(self.url())
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return self.url(name)

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start(*, settings: dict[str, str] | None = None) -> Cluster:
    """Start a cluster in a new temporary folder; raise RuntimeError when it cannot start."""
    found = binaries()
    if found is None:
        raise RuntimeError("PostgreSQL binaries not found; run tests/install_postgresql.sh")
    as_postgres = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="customer-health-pg-"))
    password_file = folder / "pw"
    password_file.write_text(PASSWORD + "\n")
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    cluster = Cluster(folder, _free_port(), found, as_postgres)
    options = {
        "listen_addresses": "127.0.0.1", "port": str(cluster.port),
        "unix_socket_directories": str(folder),
        # A throwaway cluster: durability buys nothing and costs the tests time.
        "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
        **(settings or {}),
    }
    try:
        cluster._run("initdb", "-D", str(folder / "data"), "-U", SUPERUSER, "-E", "UTF8",
                     "--auth-local=trust", "--auth-host=scram-sha-256",
                     f"--pwfile={password_file}", "--no-sync")
        flags = " ".join(f"-c {key}={value}" for key, value in options.items())
        cluster._run("pg_ctl", "start", "-D", str(folder / "data"), "-w", "-t", "60",
                     "-l", str(folder / "server.log"), "-o", flags)
    except subprocess.CalledProcessError as exc:
        log = folder / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}{detail}"
        ) from None
    _wait_until_ready(cluster)
    return cluster


def _wait_until_ready(cluster: Cluster, seconds: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg.connect(cluster.url()).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

"""A real PostgreSQL server for tests: initdb in a temporary folder, 127.0.0.1, a free port.

The server binaries come from the Debian ``postgresql`` package
(``scripts/install-system-deps.sh``); they are looked up in PATH and then in
``/usr/lib/postgresql/<version>/bin``, where Debian keeps them out of PATH.

``initdb`` and ``postgres`` refuse to run as root, and tests here and in CI do
run as root, so the server runs as the ``postgres`` system user the package
creates (``nobody`` when there is none), switched to by ``subprocess`` itself
(``user=``/``group=``: no ``su``/``runuser``, no terminal, no stdin needed).
Its folder is a fresh ``mkdtemp`` under the system temp dir, chowned to that
user: pytest's ``tmp_path`` lives under a root-only folder it could not enter.

Durability is switched off (``fsync``, ``synchronous_commit``,
``full_page_writes``): the tests check behaviour, not crash safety, and a
commit that waits for the disk makes the concurrency tests crawl.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 60
_BINARIES = ("initdb", "postgres")


def find_postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``postgres``: PATH first, then Debian's versioned folders."""
    on_path = [shutil.which(name) for name in _BINARIES]
    if all(on_path):
        return Path(os.path.realpath(on_path[0])).parent  # type: ignore[arg-type]
    # Newest version first: /usr/lib/postgresql/15/bin before 13.
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
                        reverse=True)
    for folder in candidates:
        if all((Path(folder) / name).is_file() for name in _BINARIES):
            return Path(folder)
    return None


def missing_reason() -> str:
    """Why no server can start here, for a skip message that says what to install."""
    return ("PostgreSQL server binaries (initdb, postgres) not found in PATH or /usr/lib/postgresql/*/bin: "
            "run `sh scripts/install-system-deps.sh` (Debian package postgresql).")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root; None when we may run it ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as; "
                       "install the Debian postgresql package (it creates the postgres user).")


@dataclass
class PostgresServer:
    """One server; ``url(db)`` is a SQLAlchemy URL for a database on it.

    ``pause()`` stops it and keeps its data, ``resume()`` starts it again on the same port: a
    database server that goes away and comes back, as a client sees it.
    """

    port: int
    root: Path
    bin_dir: Path
    env: dict[str, str]
    as_user: dict
    process: subprocess.Popen | None = None
    databases: list[str] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def resume(self) -> None:
        """Start ``postgres`` on the cluster; returns once it accepts connections."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.root / "data"), "-h", "127.0.0.1",
                 "-p", str(self.port), "-k", str(self.root),
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=100"],
                env=self.env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, **self.as_user,
            )
        _wait_ready(self)

    def pause(self) -> None:
        """Stop the server (fast shutdown), keeping its data."""
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, then exit.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database (a private one per test); returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bin_dir: Path | None = None) -> PostgresServer:
    """initdb a fresh cluster and start ``postgres`` on 127.0.0.1; returns once it accepts connections.

    Raises:
        RuntimeError: no binaries, or the server did not come up (with its log).
    """
    bin_dir = bin_dir or find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError(missing_reason())
    ids = _server_user()
    root = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    as_user: dict = {}
    if ids is not None:
        os.chown(root, *ids)
        as_user = {"user": ids[0], "group": ids[1], "extra_groups": []}
    data = root / "data"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "HOME": str(root)}
    done = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        env=env, cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, **as_user,
    )
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({done.returncode}): {done.stdout[-1500:]}{done.stderr[-1500:]}")
    server = PostgresServer(free_port(), root, bin_dir, env, as_user)
    atexit.register(server.stop)  # even if pytest is interrupted before fixture teardown
    server.resume()
    return server


def _wait_ready(server: PostgresServer) -> None:
    import psycopg

    assert server.process is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = server.log()
            server.stop()
            raise RuntimeError(f"postgres exited with {server.process.returncode}:\n{output}")
        try:
            with psycopg.connect(server.url().replace("+psycopg", ""), connect_timeout=2):
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    output = server.log()
    server.stop()
    raise RuntimeError(f"postgres did not accept connections within {START_TIMEOUT_S}s:\n{output}")

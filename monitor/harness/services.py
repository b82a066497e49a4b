"""Private copies of the services tests and benchmarks need, started on free loopback ports.

Plain functions (no pytest): ``tests/conftest.py`` wraps them in fixtures, ``bench/`` calls them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ServiceMissing(RuntimeError):
    """A service could not be started; the message says what to install or what went wrong."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise ServiceMissing(f"{what} exited at start (code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise ServiceMissing(f"{what} did not start within {timeout:g} s")


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> str:
    """Terminate ``proc`` (killed if it does not end within ``timeout`` s); its captured output."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def start_redis(directory: Path, timeout: float = 10, *, appendonly: bool = False,
                port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A private redis-server in ``directory``: (process, its URL). Stop it with terminate().

    By default it keeps nothing on disk. With ``appendonly`` it runs as the README says Redis must
    run in production (append-only file, fsync every second, no eviction), so a redis-server
    started again on the same ``port`` and ``directory`` after a ``kill -9`` reloads what it held.
    """
    exe = shutil.which("redis-server")
    if not exe:
        raise ServiceMissing("redis-server is needed: apt-get install redis-server")
    port = port or free_port()
    persist = (["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"]
               if appendonly else ["--appendonly", "no"])
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *persist,
                             "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    _wait_port(port, proc, "redis-server", timeout)
    return proc, f"redis://127.0.0.1:{port}"


class Postgres:
    """A private PostgreSQL server (Debian's initdb and pg_ctl) on a free loopback port, trust auth.

    Run by the ``postgres`` user when this process is root (initdb refuses root), in a folder that
    user owns. :meth:`stop` and :meth:`start` take it away and bring it back on the same port (a
    database outage); :meth:`destroy` stops it and removes its files.
    """

    def __init__(self, timeout: float = 30):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise ServiceMissing("PostgreSQL's server binaries are needed: apt-get install postgresql")
        self.bin = Path(found[-1]).parent
        self.timeout = timeout
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="earshot-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceMissing("running as root, a 'postgres' user is needed to run PostgreSQL "
                                     "(apt-get install postgresql creates it)") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.dir / "data"
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--no-sync"], "initdb")
        self.start()

    def _run(self, args: list[str], what: str) -> None:
        out = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=self.timeout)
        if out.returncode != 0:
            raise ServiceMissing(f"PostgreSQL {what} failed: {(out.stderr or out.stdout)[-1500:]}")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts,
                   "-w", "-t", str(int(self.timeout)), "start"], "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (disconnect every client, as a restart does) or ``immediate`` (a crash)."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        from sqlalchemy import create_engine, text

        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except ServiceMissing:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


def start_postgres(timeout: float = 30) -> Postgres:
    """A private PostgreSQL server (see :class:`Postgres`); ``destroy()`` it when done."""
    return Postgres(timeout)


@contextmanager
def serve_asgi(app, *, host: str = "127.0.0.1", timeout: float = 10) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL.

    The socket is bound here and handed to uvicorn, so no other process can take the port in
    between. On exit the server stops, giving open connections (event streams) 2 s to end.
    """
    import threading

    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", ws="none",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            server.should_exit = True
            sock.close()
            raise ServiceMissing(f"the ASGI app did not start on {host}:{port} within {timeout:g} s (see the log above)")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()

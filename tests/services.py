"""Private copies of the services tests and benchmarks need, started on free loopback ports.

Plain functions (no pytest): ``tests/conftest.py`` wraps them in fixtures, ``bench/`` calls them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
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


def start_redis(directory: Path, timeout: float = 10) -> tuple[subprocess.Popen, str]:
    """A redis-server keeping nothing on disk, in ``directory``: (process, its URL). Stop it with terminate()."""
    exe = shutil.which("redis-server")
    if not exe:
        raise ServiceMissing("redis-server is needed: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(directory)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise ServiceMissing(f"redis-server did not start within {timeout:g} s")


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

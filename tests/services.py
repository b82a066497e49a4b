"""Private copies of the services tests and benchmarks need, started on free loopback ports.

Plain functions (no pytest): ``tests/conftest.py`` wraps them in fixtures, ``bench/`` calls them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
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

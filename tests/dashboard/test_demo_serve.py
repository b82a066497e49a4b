"""`earshot demo` ends by serving the dashboard with a generated demo sign-in (kept for the next run)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.dashboard.support import login
from monitor.harness.services import free_port

EARSHOT = [sys.executable, "-c", "from monitor.cli import main; main()"]


def _start_demo(env: dict, port: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([*EARSHOT, "demo", "--size", "2000", "--no-progress", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops" in line:
            return proc, "".join(lines)
    proc.kill()
    raise AssertionError("the demo did not start serving:\n" + "".join(lines))


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def test_the_demo_serves_the_dashboard_with_a_generated_sign_in(tmp_path):
    env = {**os.environ, "EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_CONFIG": str(ROOT / "config" / "keywords.yaml")}
    env.pop("EARSHOT_DATABASE_URL", None)
    env.pop("EARSHOT_BROKER_URL", None)
    port = free_port()
    proc, out = _start_demo(env, port)
    try:
        assert f"dashboard: http://127.0.0.1:{port}" in out
        m = re.search(r"sign in as (\w+) with password (\S+)", out)
        assert m and m.group(1) == "demo"
        password = m.group(2)
        assert len(password) >= 12
        saved = Path(tmp_path / "var" / "demo-login.txt")
        assert saved.read_text().strip() == password and (saved.stat().st_mode & 0o077) == 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as c:
            deadline = time.monotonic() + 30
            while True:  # the banner is printed as the server starts
                try:
                    health = c.get("/health")
                    break
                except httpx.ConnectError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            assert health.json()["status"] == "ok"
            login(c, "demo", password)
            page = c.get("/alerts")
            assert page.status_code == 200 and "Live alerts" in page.text
            alerts = c.get("/api/alerts").json()
            assert any(a["severity"] == "critical" and a["topic"] == "vaccination" for a in alerts)
    finally:
        _stop(proc)
    # a second run keeps the same sign-in (nothing fixed, nothing new to copy)
    proc, out2 = _start_demo(env, port)
    _stop(proc)
    assert f"with password {password}" in out2


def test_earshot_run_serves_the_dashboard_beside_collection(tmp_path):
    env = {**os.environ, "EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_CONFIG": str(ROOT / "config" / "keywords.yaml")}
    for name in ("EARSHOT_DATABASE_URL", "EARSHOT_BROKER_URL", "EARSHOT_REDIS_URL"):
        env.pop(name, None)
    port = free_port()
    proc = subprocess.Popen([*EARSHOT, "run", "--duration", "20", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.ConnectError:
                time.sleep(0.3)
        assert health is not None and health.json() == {"status": "ok", "store": True, "live": "polling"}
        assert httpx.get(f"http://127.0.0.1:{port}/alerts", timeout=5, follow_redirects=False).status_code == 303
    finally:
        _stop(proc)
    out = proc.stdout.read()
    assert f"dashboard: http://127.0.0.1:{port}" in out and "scheduled jobs in-process" in out, out

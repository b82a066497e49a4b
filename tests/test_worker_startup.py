"""A worker or beat with a broken configuration or a plugin that fails to load refuses to start, saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def start(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "EARSHOT_BROKER_URL": "redis://127.0.0.1:9/0",  # never reached: it must stop first
         "EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "EARSHOT_DATA_DIR": str(tmp_path / "var"),
         "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "celery", "-A", "worker", *args], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("role", [["worker", "--pool", "solo"], ["beat"]])
def test_a_broken_configuration_stops_the_worker_and_the_beat(tmp_path, role):
    bad = tmp_path / "keywords.yaml"
    bad.write_text("topics:\n  flu:\n    query: 'flu\n")
    out = start(role, tmp_path, EARSHOT_CONFIG=str(bad))
    assert out.returncode != 0
    assert "earshot worker: cannot start" in out.stderr and str(bad) in out.stderr, out.stderr[-2000:]


def broken_plugin(tmp_path: Path, group: str) -> Path:
    """A folder holding an installed distribution whose ``group`` entry point names a module that does not import."""
    site = tmp_path / "site"
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\nbroken = broken_plugin_module:hook\n")
    (site / "broken_plugin_module.py").write_text("raise ImportError('the plugin needs a library that is not installed')\n")
    return site


@pytest.mark.parametrize("group", ["earshot.after_batch", "earshot.schedule", "earshot.tasks"])
def test_a_plugin_that_fails_to_load_stops_the_worker(tmp_path, group):
    site = broken_plugin(tmp_path, group)
    out = start(["worker", "--pool", "solo"], tmp_path, PYTHONPATH=f"{site}{os.pathsep}{ROOT}")
    assert out.returncode != 0
    assert "earshot worker: cannot start" in out.stderr, out.stderr[-2000:]
    assert f"{group} extension 'broken'" in out.stderr and "not installed" in out.stderr, out.stderr[-2000:]


def test_a_plugin_that_fails_to_load_stops_the_embedded_service(tmp_path):
    site = broken_plugin(tmp_path, "earshot.after_batch")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "EARSHOT_DATA_DIR": str(tmp_path / "var"),
           "EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    env.pop("EARSHOT_BROKER_URL", None)
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "run", "--once"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "cannot start" in out.stderr and "earshot.after_batch extension 'broken'" in out.stderr, out.stderr[-2000:]


def test_plugin_tasks_come_through_the_extension_point():
    import worker
    from influence.tasks import TASK_NAME

    task = worker.app.tasks[TASK_NAME]
    assert task.run.__module__ == "influence.tasks"  # defined by the plugin's hook, not by worker.py

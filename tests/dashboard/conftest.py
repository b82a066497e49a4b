"""Fixtures for the dashboard tests: a configured store, the app, accounts with every role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.support import add_role_users, config_file, make_app


@pytest.fixture
def topics_env(tmp_path, monkeypatch):
    path = config_file(tmp_path)
    monkeypatch.setenv("EARSHOT_CONFIG", str(path))
    monkeypatch.delenv("EARSHOT_REDIS_URL", raising=False)
    monkeypatch.delenv("EARSHOT_SMTP_HOST", raising=False)
    monkeypatch.delenv("EARSHOT_WEBHOOKS", raising=False)
    return path


@pytest.fixture
def users(sqlite_store):
    return add_role_users(sqlite_store)


@pytest.fixture
def client(sqlite_store, topics_env, users):
    app = make_app(sqlite_store, topics_env, hub=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory):
    """The demo week (2,000 tweets and the feeds) through the pipeline with the alert engine, as
    `earshot demo` stores it; influence rankings of the vaccination topic computed. Read-mostly: tests
    that change it (marks) undo what they did."""
    from datetime import datetime, timedelta

    from monitor.alerts import engine
    from monitor.config import load_config
    from monitor.demo.generator import ScenarioSpec, generate
    from monitor.pipeline import AFTER_BATCH
    from monitor.replay import import_files
    from monitor.settings import load_settings
    from monitor.store import Store
    from monitor.topics import Matcher
    from tests.conftest import ROOT

    tmp = tmp_path_factory.mktemp("dashdemo")
    cfg_path = ROOT / "config" / "keywords.yaml"
    with pytest.MonkeyPatch.context() as mp:
        for var in ("EARSHOT_REDIS_URL", "EARSHOT_BROKER_URL", "EARSHOT_SMTP_HOST", "EARSHOT_WEBHOOKS",
                    "EARSHOT_DATABASE_URL"):
            mp.delenv(var, raising=False)
        mp.setenv("EARSHOT_CONFIG", str(cfg_path))
        truth = generate(tmp / "scenario", ScenarioSpec(size=2000, seed=7))
        config = load_config(cfg_path)
        url = f"sqlite:///{tmp / 'demo.db'}"
        store = Store(url)
        files = sorted((tmp / "scenario" / "x").glob("*.jsonl")) + sorted((tmp / "scenario" / "rss").glob("*.xml"))
        added = engine.after_batch not in AFTER_BATCH
        if added:
            AFTER_BATCH.append(engine.after_batch)
        try:
            import_files(files, store, Matcher(config.topics), progress=False)
        finally:
            if added:
                AFTER_BATCH.remove(engine.after_batch)
        end = datetime.fromisoformat(truth["end"])
        engine.detect(store, config, load_settings(), horizon=end, now=end + timedelta(days=1), sources=False)
        from briefings.archive import save_build
        from briefings.build import build
        from briefings.settings import BriefingSettings
        from briefings.week import Week

        # the week's briefing, so its archive page is among the pages
        save_build(store, build(store, config, Week.containing(datetime.fromisoformat(truth["start"])),
                                BriefingSettings()), by="test")
    yield {"store": store, "config": config, "config_path": cfg_path, "truth": truth, "url": url,
           "end": end}
    store.dispose()


@pytest.fixture
def demo_client(demo_week, monkeypatch):
    from tests.dashboard.support import add_role_users

    monkeypatch.setenv("EARSHOT_CONFIG", str(demo_week["config_path"]))
    add_role_users(demo_week["store"])
    app = make_app(demo_week["store"], demo_week["config"], hub=False)
    with TestClient(app) as c:
        yield c

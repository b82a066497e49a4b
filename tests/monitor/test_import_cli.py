"""`earshot import` as a user runs it: compressed files, failures beside good files, what the data says
about itself apart from problems, tweets skipped, and what the import added per topic and when."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma

import zstandard
from sqlalchemy import func, select

from monitor import models as m
from monitor.store import Store
from tests.conftest import ROOT
from tests.monitor.test_cli import run

FEED = ROOT / "tests" / "fixtures" / "feeds" / "health_rss.xml"
CONFIG = """\
topics:
  brexit:
    label: Brexit talk
    query: 'brexit OR #brexit'
    languages: []
  kpop:
    label: K-pop
    query: 'kpop OR #kpop'
    languages: []
  nothing:
    label: Nothing at all
    query: 'zzzyzzx'
    languages: []
"""


def env_for(tmp_path, name="import.db"):
    cfg = tmp_path / "topics.yaml"
    cfg.write_text(CONFIG)
    return {"EARSHOT_DATABASE_URL": f"sqlite:///{tmp_path / name}", "EARSHOT_DATA_DIR": str(tmp_path / "var"),
            "EARSHOT_CONFIG": str(cfg)}


def post_ids(url: str) -> set[str]:
    store = Store(url)
    with store.engine.connect() as conn:
        ids = {r[0] for r in conn.execute(select(m.posts.c.platform_id))}
    store.dispose()
    return ids


def test_compressed_files_read_as_the_plain_ones(tmp_path, x_fixtures):
    plain_env = env_for(tmp_path, "plain.db")
    brexit, kpop = x_fixtures / "brexit.jsonl", x_fixtures / "kpop.jsonl"
    out = run("import", "--no-progress", brexit, kpop, x_fixtures / "flat.jsonl", FEED, env=plain_env)
    assert out.returncode == 0, out.stdout + out.stderr
    export = tmp_path / "export.jsonl"
    assert run("export", export, env=plain_env).returncode == 0
    files = {
        tmp_path / "brexit.jsonl.gz": gzip.compress(brexit.read_bytes()),
        tmp_path / "kpop.jsonl.bz2": bz2.compress(kpop.read_bytes()),
        tmp_path / "flat.jsonl.xz": lzma.compress((x_fixtures / "flat.jsonl").read_bytes()),
        tmp_path / "health.xml.zst": zstandard.ZstdCompressor().compress(FEED.read_bytes()),
        tmp_path / "export.jsonl.gz": gzip.compress(export.read_bytes()),
    }
    for path, data in files.items():
        path.write_bytes(data)
    env = env_for(tmp_path, "compressed.db")
    out = run("import", "--no-progress", *list(files)[:4], env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    for path in list(files)[:3]:
        assert f"{path}: x-v2," in out.stdout
    assert f"{tmp_path / 'health.xml.zst'}: feed," in out.stdout
    assert post_ids(env["EARSHOT_DATABASE_URL"]) == post_ids(plain_env["EARSHOT_DATABASE_URL"])
    # an Earshot export, gzipped, into a fresh store: the same posts again
    fresh = env_for(tmp_path, "from_export.db")
    out = run("import", "--no-progress", tmp_path / "export.jsonl.gz", env=fresh)
    assert out.returncode == 0 and f"{tmp_path / 'export.jsonl.gz'}: earshot," in out.stdout, out.stdout
    assert post_ids(fresh["EARSHOT_DATABASE_URL"]) == post_ids(plain_env["EARSHOT_DATABASE_URL"])


def test_a_broken_or_missing_file_beside_good_ones_fails_the_import_but_not_the_good_files(tmp_path, x_fixtures):
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress((x_fixtures / "kpop.jsonl").read_bytes())[:5000])
    env = env_for(tmp_path)
    out = run("import", "--no-progress", x_fixtures / "brexit.jsonl", tmp_path / "missing.jsonl", truncated, env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert f"{tmp_path / 'missing.jsonl'}: skipped — no such file" in out.stdout
    assert f"{truncated}: skipped — " in out.stdout and "end-of-stream" in out.stdout
    assert "3 files" in out.stdout and "2 files failed" in out.stdout
    brexit_ids = {t["id"] for line in (x_fixtures / "brexit.jsonl").read_text().splitlines()
                  for t in json.loads(line)["data"]}
    assert brexit_ids <= post_ids(env["EARSHOT_DATABASE_URL"])
    # all good: exit 0
    again = run("import", "--no-progress", x_fixtures / "brexit.jsonl", env=env)
    assert again.returncode == 0 and "0 files failed" in again.stdout


def test_x_partial_errors_are_notes_not_problems(tmp_path, x_fixtures):
    env = env_for(tmp_path)
    out = run("import", "--no-progress", x_fixtures / "noflat.jsonl", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith(str(x_fixtures / "noflat.jsonl")))
    assert "0 problems" in line and "1 notes from the data" in line
    assert "notes (what the platform could not show: not problems):" in out.stdout
    assert "Forbidden: User has been suspended: [gatewaypundit]." in out.stdout
    store = Store(env["EARSHOT_DATABASE_URL"])
    with store.engine.connect() as conn:
        errors = conn.execute(select(m.source_state.c.errors, m.source_state.c.last_error)).one()
    assert tuple(errors) == (0, None)  # a suspended account is not a failing source
    store.dispose()


def test_tweets_without_an_author_are_counted_as_skipped(tmp_path, x_fixtures):
    page = json.loads((x_fixtures / "brexit.jsonl").read_text().splitlines()[0])
    for t in page["data"]:
        t.pop("author_id")
    f = tmp_path / "no_authors.jsonl"
    f.write_text(json.dumps({"data": page["data"]}) + "\n")
    n = len(page["data"])
    out = run("import", "--no-progress", f, env=env_for(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{f}: x-v2, 0 posts (0 new, 0 already stored), 0 new interactions, {n} skipped, {n} problems" in out.stdout
    assert "no author_id (request the author_id expansion); skipped" in out.stdout
    assert f"1 files, 0 posts read, 0 new, {n} skipped; 0 files failed" in out.stdout


def test_the_summary_gives_posts_per_topic_and_the_time_span(tmp_path, x_fixtures):
    env = env_for(tmp_path)
    files = [x_fixtures / "brexit.jsonl", x_fixtures / "kpop.jsonl"]
    out = run("import", "--no-progress", *files, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    store = Store(env["EARSHOT_DATABASE_URL"])
    with store.engine.connect() as conn:
        tags = dict(conn.execute(select(m.post_topics.c.topic, func.count()).group_by(m.post_topics.c.topic)).all())
        p = m.posts
        first, last = conn.execute(select(func.min(p.c.created_at), func.max(p.c.created_at))
                                   .where(p.c.referenced_only.is_(False))).one()
    store.dispose()
    assert tags["brexit"] > 0 and tags["kpop"] > 0
    lines = out.stdout.splitlines()
    at = lines.index("posts each topic matched (newly stored):")
    shown = {x.rsplit(None, 1)[0].strip(): int(x.rsplit(None, 1)[1]) for x in lines[at + 1:at + 4]}
    assert shown == {"Brexit talk (brexit)": tags["brexit"], "K-pop (kpop)": tags["kpop"], "Nothing at all (nothing)": 0}
    assert lines[at + 4] == f"time span imported: {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    # imported again: nothing newly matched, the span still said
    again = run("import", "--no-progress", *files, env=env)
    assert "Brexit talk (brexit)" in again.stdout and f"time span imported: {first:%Y-%m-%d %H:%M}" in again.stdout

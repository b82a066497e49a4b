"""Hostile and broken input, imported as a user imports it: one bad field, one bad batch, one bad line
never costs the rest."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from monitor import models as m
from monitor.store import Store
from tests.monitor.test_cli import run
from tests.monitor.test_x_source import fake_x  # noqa: F401 (a fixture)

FEED = """<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Health &#1;News&#27;[31m</title><link>http://news.example.org/</link>
<description>Desk&#0; of the day</description>
<item><title>NHS waiting list hits a record</title><link>http://news.example.org/a</link>
<guid>http://news.example.org/a</guid><dc:creator>Jo&#0;Reporter</dc:creator>
<description>Waiting lists grew again.</description><pubDate>Mon, 16 Nov 2026 09:00:00 GMT</pubDate></item>
<item><title>Second&#0; story</title><link>http://news.example.org/b</link>
<guid>http://news.example.org/b&#0;</guid><description>More&#0;.</description>
<pubDate>Mon, 16 Nov 2026 10:00:00 GMT</pubDate></item>
</channel></rss>
"""


def env_for(tmp_path, url):
    return {"EARSHOT_DATABASE_URL": url, "EARSHOT_DATA_DIR": str(tmp_path / "var")}


def no_control_chars(store: Store) -> None:
    """No text column of any stored row holds a NUL or another control character (but newline and tab)."""
    with store.engine.connect() as conn:
        for table in (m.posts, m.accounts, m.source_state, m.gaps):
            for row in conn.execute(select(table)).mappings():
                for col, value in row.items():
                    if isinstance(value, str):
                        assert not any(ord(c) < 32 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f for c in value), \
                            (table.name, col, value)


def test_a_feed_with_a_nul_in_its_author_is_stored_on_postgresql(tmp_path, pg_url):
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED)
    out = run("import", "--no-progress", feed, env=env_for(tmp_path, pg_url))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 posts (2 new" in out.stdout
    store = Store(pg_url)
    with store.engine.connect() as conn:
        names = {r[0] for r in conn.execute(select(m.accounts.c.name))}
        ids = {r[0] for r in conn.execute(select(m.posts.c.platform_id))}
    assert "JoReporter" in names
    assert ids == {"http://news.example.org/a", "http://news.example.org/b"}
    no_control_chars(store)
    store.dispose()


def x_page() -> dict:
    long_id = "9" * 300
    return {
        "data": [
            {"id": "1500000000000000001", "author_id": "77", "text": "NHS\u0000 waiting list \u001b[2J@bad\u0000guy",
             "created_at": "2026-11-16T09:00:00.000Z", "lang": "en\u0000",
             "entities": {"mentions": [{"start": 25, "end": 33, "username": "bad\u0000guy", "id": "78\u0000"}],
                          "hashtags": [{"tag": "NHS\u0000"}],
                          "urls": [{"expanded_url": "https://example.org/\u0000x", "url": "https://t.co/x"}]},
             "public_metrics": {"retweet_count": 3, "like_count": -5}},
            {"id": long_id, "author_id": "77", "text": "an id longer than any column",
             "created_at": "2026-11-16T09:01:00.000Z"},
        ],
        "includes": {"users": [
            {"id": "77", "username": "nul\u0000handle", "name": "Evil\u0000 \u001b]0;pwned\u0007Name",
             "description": "bio\u0000 with \ud800 a lone surrogate\nand a second line", "location": "Lon\u0000don",
             "url": "https://example.org/\u0000", "public_metrics": {"followers_count": 12}},
        ]},
    }


def test_an_x_account_with_nul_everywhere_is_stored_on_postgresql(tmp_path, pg_url):
    f = tmp_path / "page.jsonl"
    f.write_text(json.dumps(x_page()) + "\n")
    out = run("import", "--no-progress", f, env=env_for(tmp_path, pg_url))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 posts (2 new" in out.stdout
    store = Store(pg_url)
    a = m.accounts
    with store.engine.connect() as conn:
        acct = conn.execute(select(a).where(a.c.platform_id == "77")).mappings().one()
        mentioned = conn.execute(select(a.c.platform_id, a.c.handle).where(a.c.platform_id == "78")).one()
        post = conn.execute(select(m.posts).where(m.posts.c.platform_id == "1500000000000000001")).mappings().one()
        long_ids = [r[0] for r in conn.execute(select(m.posts.c.platform_id).where(m.posts.c.platform_id.like("999%")))]
    assert acct["handle"] == "nulhandle" and acct["name"] == "Evil ]0;pwnedName"
    assert acct["description"] == "bio with  a lone surrogate\nand a second line"  # free text keeps its lines
    assert acct["location"] == "London" and acct["followers"] == 12
    assert mentioned == ("78", "badguy")
    assert post["text"] == "NHS waiting list [2J@badguy" and post["lang"] == "en" and post["hashtags"] == ["nhs"]
    assert post["retweets"] == 3 and post["likes"] == -5
    assert len(long_ids) == 1 and len(long_ids[0]) <= 255 and long_ids[0].startswith("999")
    no_control_chars(store)
    # imported again: the same ids (a long id always maps the same), nothing twice
    again = run("import", "--no-progress", f, env=env_for(tmp_path, pg_url))
    assert again.returncode == 0 and "0 new, 2 already stored" in again.stdout, again.stdout
    store.dispose()


def test_a_batch_the_store_refuses_is_reported_and_the_import_goes_on(tmp_path, pg_url, x_fixtures):
    """PostgreSQL refuses one batch (a trigger stands for any refusal cleaning cannot prevent): that batch is
    quarantined and reported with the reason, the file's other batches and the later files are stored, the exit
    code says so."""
    store = Store(pg_url)
    with store.engine.begin() as conn:
        conn.execute(text("""
            CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
              IF NEW.text LIKE '%REFUSE-ME%' THEN RAISE EXCEPTION 'refused by policy: %', NEW.platform_id; END IF;
              RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse BEFORE INSERT ON posts FOR EACH ROW EXECUTE FUNCTION refuse();"""))
    pages = [{"data": [{"id": f"16000000000000000{i:02}", "author_id": "5", "created_at": f"2026-11-16T09:{i:02}:00.000Z",
                        "text": "REFUSE-ME" if i == 1 else f"post {i}"}], "includes": {"users": [{"id": "5", "username": "u"}]}}
             for i in range(3)]
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(p) + "\n" for p in pages))
    later = x_fixtures / "two_tweets.jsonl"
    out = run("import", "--no-progress", "--batch-size", "1", first, later, env=env_for(tmp_path, pg_url))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "batch 2: 1 posts quarantined" in out.stdout and "refused by policy: 1600000000000000001" in out.stdout
    assert "1 posts quarantined" in out.stdout and "earshot quarantine list" in out.stdout
    assert f"{later}: x-v2, 2 posts (2 new" in out.stdout
    with store.engine.connect() as conn:
        ids = {r[0] for r in conn.execute(select(m.posts.c.platform_id))}
    assert {"1600000000000000000", "1600000000000000002"} <= ids and "1600000000000000001" not in ids
    assert len(ids) == 4
    listed = run("quarantine", "list", env=env_for(tmp_path, pg_url))
    assert listed.returncode == 0 and "refused by policy" in listed.stdout, listed.stdout + listed.stderr
    store.dispose()


# ---------------------------------------------------------------------- item 5: lines that stop a reader
DEEP = "[" * 10_000 + "]" * 10_000  # Python's JSON parser recurses once per level
DEEP_OBJECT = '{"a": ' * 10_000 + "1" + "}" * 10_000


def test_deeply_nested_and_non_utf8_lines_are_reported_and_the_rest_imported(tmp_path, x_fixtures, sqlite_store):
    good = (x_fixtures / "two_tweets.jsonl").read_bytes().splitlines()
    assert len(good) == 1
    brexit = (x_fixtures / "brexit.jsonl").read_bytes().splitlines()
    nested_first = tmp_path / "nested_first.jsonl"
    nested_first.write_bytes(b"\n".join([DEEP.encode(), good[0], DEEP_OBJECT.encode()]) + b"\n")
    bad_utf8_first = tmp_path / "bad_utf8_first.jsonl"
    bad_utf8_first.write_bytes(b"\n".join([b'{"data": [{"id": "1", "text": "caf\xe9 \xff"}]}', *brexit[:2]]) + b"\n")
    env = env_for(tmp_path, sqlite_store.url)
    out = run("import", "--no-progress", nested_first, bad_utf8_first, x_fixtures / "kpop.jsonl", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr and "RecursionError" not in out.stdout + out.stderr
    assert "nested_first.jsonl line 1: not read: the JSON nests too deeply" in out.stdout
    assert "nested_first.jsonl line 3: not read: the JSON nests too deeply" in out.stdout
    assert "bad_utf8_first.jsonl line 1: not UTF-8 (invalid continuation byte at byte" in out.stdout
    assert f"{nested_first}: x-v2, 2 posts (2 new" in out.stdout
    assert f"{bad_utf8_first}: x-v2" in out.stdout and f"{x_fixtures / 'kpop.jsonl'}: x-v2" in out.stdout
    one_by_one = Store(f"sqlite:///{tmp_path / 'ref.db'}")
    ref = run("import", "--no-progress", x_fixtures / "two_tweets.jsonl", x_fixtures / "kpop.jsonl",
              env=env_for(tmp_path, one_by_one.url))
    assert ref.returncode == 0
    brexit_ids = {t["id"] for line in brexit[:2] for t in json.loads(line)["data"]}
    with sqlite_store.engine.connect() as conn:
        got = {r[0] for r in conn.execute(select(m.posts.c.platform_id).where(m.posts.c.referenced_only.is_(False)))}
    with one_by_one.engine.connect() as conn:
        want = {r[0] for r in conn.execute(select(m.posts.c.platform_id).where(m.posts.c.referenced_only.is_(False)))}
    assert got == want | brexit_ids
    one_by_one.dispose()


def test_an_export_with_hostile_lines_keeps_the_rest(tmp_path, x_fixtures, sqlite_store):
    env = env_for(tmp_path, sqlite_store.url)
    assert run("import", "--no-progress", x_fixtures / "two_tweets.jsonl", env=env).returncode == 0
    exported = tmp_path / "export.jsonl"
    assert run("export", exported, env=env).returncode == 0
    header, *batches = exported.read_bytes().splitlines()
    hostile = tmp_path / "hostile_export.jsonl"
    hostile.write_bytes(b"\n".join([header, DEEP.encode(), b'{"batch": "\xff\xfe"}', *batches]) + b"\n")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    out = run("import", "--no-progress", hostile, env=env_for(tmp_path, fresh))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "hostile_export.jsonl line 2: not read: the JSON nests too deeply" in out.stdout
    assert "hostile_export.jsonl line 3: not UTF-8" in out.stdout
    assert Store(fresh).counts() == sqlite_store.counts()


def test_the_x_stream_reports_a_deeply_nested_line_and_reads_on(fake_x):
    from tests.monitor.test_x_source import Sleeps, primary_ids, stream_lines, stream_source

    x, base = fake_x
    lines = stream_lines()
    x.streams.append([lines[0], DEEP.encode(), b'{"data": "\xff"}', DEEP_OBJECT.encode(), lines[1], lines[2]])
    want = [json.loads(line)["data"]["id"] for line in lines[:3]]
    got = []
    for batch in stream_source(base, Sleeps(), batch_size=3).collect(None):
        got.append(batch)
        if set(want) <= set(primary_ids(got)):
            break
    assert sorted(primary_ids(got)) == sorted(want)
    errors = [e for b in got for e in b.errors]
    assert sum("nests too deeply" in e for e in errors) == 2
    assert sum("is not JSON" in e for e in errors) == 1


def test_a_failing_source_s_error_is_stored_clean_on_postgresql(pg_url):
    """What a server says in an error (quoted in the source's failure) reaches the status cleaned."""
    from datetime import datetime, timezone

    from monitor.items import Gap

    store = Store(pg_url)
    t = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)
    store.record_source_run("rss:hostile", error="HTTP 500: \x00\x1b]0;owned\x07 boom",
                            gaps=[Gap("rss:hostile", t, t, "error", "said \x00\x1b[2J")])
    no_control_chars(store)
    with store.engine.connect() as conn:
        assert conn.execute(select(m.source_state.c.last_error)).scalar_one() == "HTTP 500: ]0;owned boom"
    store.dispose()

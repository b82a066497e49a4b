"""Stranger text never drives the user's terminal: escape codes in a display name, a handle or a post reach
`earshot influencers` output as harmless text."""

from __future__ import annotations

from sqlalchemy import update

from monitor import models as m
from monitor.store import Store
from tests.influence.network import TOPIC
from tests.influence.test_export_cli import run
from tests.influence.test_lookup import CUR, two_weeks

# OSC 0 (set the window title), clear the screen, red text, and a bell: what a hostile display name carries
HOSTILE = "\x1b]0;you have been owned\x07\x1b[2J\x1b[31mNew Star\x1b[0m\x9b6n"


def test_escape_codes_in_names_and_posts_do_not_reach_the_terminal(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    s = Store(url)
    two_weeks(s)
    # a store written before ingest cleaned names (or by any other way in): the codes are in the database
    with s.engine.begin() as conn:
        conn.execute(update(m.accounts).where(m.accounts.c.handle == "new_star").values(name=HOSTILE))
        conn.execute(update(m.posts).values(text=m.posts.c.text + HOSTILE))
    s.dispose()
    env = {"EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_DATABASE_URL": url}
    win = ["--since", CUR[0].isoformat(), "--until", CUR[1].isoformat()]
    for args in ([], ["--why", "@new_star"], ["--communities"]):
        out = run("influencers", TOPIC, *win, *args, env=env)
        assert out.returncode == 0, out.stderr
        text = out.stdout + out.stderr
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text[:300])
    assert "New Star" in out.stdout or "new_star" in out.stdout
    why = run("influencers", TOPIC, *win, "--why", "@new_star", env=env).stdout
    assert "]0;you have been owned" in why  # shown, as text, not obeyed

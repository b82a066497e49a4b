"""A new user's first hour (issue 14), driven as the user drove it: the installed ``earshot`` command
in a subprocess, from folders other than the checkout, on real files and a real SQLite store.

The past data is an X API v2 file (as twarc2 writes it) of March 2021: posts on smoking and the
retweets of them, so that the network has someone to rank.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor import settings as settings_module
from tests.conftest import ROOT

EARSHOT = Path(sys.executable).with_name("earshot")
PAST = datetime(2021, 3, 1, 9, 0, tzinfo=timezone.utc)  # the past data: 1 to 4 March 2021


def earshot(*args, env: dict | None = None, cwd: Path | None = None, timeout: int = 300):
    """Run the installed ``earshot`` as a user would (from ``cwd``, not the checkout)."""
    if not EARSHOT.exists():
        pytest.fail(f"the earshot command is not installed beside {sys.executable}: run scripts/setup test")
    e = {**os.environ, **(env or {})}
    for k, v in list(e.items()):
        if v is None:
            del e[k]
    return subprocess.run([str(EARSHOT), *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=timeout)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_past_data(path: Path, start: datetime = PAST) -> Path:
    """Three days of posts on smoking: 3 voices, each retweeted by 8 of 24 accounts."""
    users = [{"id": str(100 + i), "username": f"voice{i}", "name": f"Voice {i}", "created_at": "2015-01-01T00:00:00.000Z",
              "public_metrics": {"followers_count": 1000 * (i + 1), "following_count": 10, "tweet_count": 500}}
             for i in range(3)]
    fans = [{"id": str(200 + j), "username": f"fan{j}", "name": f"Fan {j}", "created_at": "2016-01-01T00:00:00.000Z",
             "public_metrics": {"followers_count": 50, "following_count": 300, "tweet_count": 900}}
            for j in range(24)]
    lines = []
    n = 0
    for day in range(3):
        for i, u in enumerate(users):
            t0 = start + timedelta(days=day, hours=i)
            orig = {"id": str(10_000 + n), "author_id": u["id"], "created_at": _iso(t0), "lang": "en",
                    "text": f"The smoking ban in parks, day {day}: what the evidence on vaping says (voice {i})",
                    "conversation_id": str(10_000 + n)}
            n += 1
            data = [orig]
            for k in range(8):
                fan = fans[(i * 8 + k) % len(fans)]
                data.append({"id": str(10_000 + n), "author_id": fan["id"], "created_at": _iso(t0 + timedelta(minutes=5 + k)),
                             "lang": "en", "text": f"RT @{u['username']}: {orig['text']}"[:140],
                             "referenced_tweets": [{"type": "retweeted", "id": orig["id"]}],
                             "entities": {"mentions": [{"start": 3, "end": 4 + len(u["username"]), "username": u["username"],
                                                        "id": u["id"]}]},
                             "conversation_id": str(10_000 + n)})
                n += 1
            lines.append(json.dumps({"data": data, "includes": {"users": users + fans, "tweets": [orig]}}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _user(tmp_path: Path) -> dict:
    data = tmp_path / "data"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"EARSHOT_DATA_DIR": str(data), "EARSHOT_DATABASE_URL": None, "EARSHOT_CONFIG": None}
    return {"env": env, "cwd": work, "data": data, "db": data / "earshot.db", "tmp": tmp_path}


@pytest.fixture
def user(tmp_path):
    """A user's setting: a data folder of their own, and a working folder that is not the checkout."""
    return _user(tmp_path)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The past data imported (as `earshot import` does it), and what the import printed.

    Shared by the tests of this module that only read the store (one import instead of one each).
    """
    user = _user(tmp_path_factory.mktemp("imported"))
    f = write_past_data(user["tmp"] / "smoking-2021.jsonl")
    out = earshot("import", f, "--no-progress", env=user["env"], cwd=user["cwd"])
    assert out.returncode == 0, out.stdout + out.stderr
    return {**user, "import": out}


# ---------------------------------------------------------------------------------------- 1, 3: status

def test_status_states_one_window_and_shows_past_data(imported):
    out = earshot("status", env=imported["env"], cwd=imported["cwd"])
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "<25" not in text
    assert re.search(r"import:smoking-2021\.jsonl\s+ok\s+last run \d{4}-\d\d-\d\d \d\d:\d\d UTC", text), text
    # no data in the last week: the window is the week to the end of the newest data, and says so
    window = re.search(r"window: (.+?), to the end of the newest data", text)
    assert window, text
    assert window.group(1).endswith("Wed 03 Mar 2021 11:15 UTC")  # the last retweet, 03 March 11:12, in its bucket
    assert f"alerts opened {window.group(1)}:" in text  # the alerts cover the same window
    smoking = re.search(r"Smoking and vaping\s+(\d+) posts", text)
    assert smoking and int(smoking.group(1)) == 81  # 3 days x 3 voices x (1 post + 8 retweets)
    assert f"data folder: {imported['data']}" in text and "(EARSHOT_DATA_DIR)" in text

    js = json.loads(earshot("status", "--json", "--since", "2021-03-02", "--until", "2021-03-03",
                            env=imported["env"], cwd=imported["cwd"]).stdout)
    assert js["window"]["basis"] == "given"
    assert js["topics"]["smoking"]["posts"] == 27 and js["topics"]["smoking"]["label"] == "Smoking and vaping"
    long = earshot("status", "--days", "2000", "--json", env=imported["env"], cwd=imported["cwd"])
    assert long.returncode == 0, long.stderr  # the span of years-old data is allowed
    assert json.loads(long.stdout)["topics"]["smoking"]["posts"] == 81
    bad = earshot("status", "--since", "2021-03-05", "--until", "2021-03-01", env=imported["env"], cwd=imported["cwd"])
    assert bad.returncode == 2 and "the window is empty" in bad.stderr


def test_status_window_ends_now_while_collecting(tmp_path):
    """A live store (a configured source ran today) is shown to now, whatever the age of its posts."""
    from monitor.config import parse_config
    from monitor.health import collection_status
    from monitor.store import Store

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    config = parse_config("topics:\n  smoking: {label: Smoking, query: smoking}\n")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert collection_status(store, {}, config, now=now)["window"] == {
        "since": now - timedelta(days=7), "until": now, "basis": "now"}  # nothing stored: to now


# ---------------------------------------------------------------------------------------- 3: past data

def test_import_of_past_data_ranks_its_span_and_says_how_to_see_it(imported):
    text = imported["import"].stdout
    assert "influence rankings computed for 1 topics over the imported span, 2021-03-01 to 2021-03-04" in text
    assert "the default window" not in text  # nothing in the last 30 days to rank
    for hint in ("earshot status --since 2021-03-01 --until 2021-03-04",
                 "earshot alerts list --since 2021-03-01 --until 2021-03-04",
                 "earshot influencers TOPIC --since 2021-03-01 --until 2021-03-04"):
        assert hint in text, text
    out = earshot("influencers", "smoking", "--since", "2021-03-01", "--until", "2021-03-04", "--json",
                  env=imported["env"], cwd=imported["cwd"])
    assert out.returncode == 0, out.stderr
    ranking = json.loads(out.stdout)
    assert ranking["source"] == "stored"  # the import's recompute answered it
    assert {a["handle"] for a in ranking["accounts"][:3]} == {"voice0", "voice1", "voice2"}
    # without dates (the last 30 days) nobody is ranked: the command says where the posts are
    out = earshot("influencers", "smoking", env=imported["env"], cwd=imported["cwd"])
    assert out.returncode == 0, out.stderr
    assert ("this topic's stored posts are from 2021-03-01 to 2021-03-03: "
            "earshot influencers smoking --since 2021-03-01 --until 2021-03-04") in out.stdout, out.stdout


# ---------------------------------------------------------------------------------------- 4: topic names

def test_topics_by_id_or_label_in_any_case_and_unknown_ones_rejected_alike(imported):
    env, cwd = imported["env"], imported["cwd"]
    window = ("--since", "2021-03-01", "--until", "2021-03-04")
    for name in ("SMOKING", "smoking AND VAPING"):
        out = earshot("influencers", name, *window, "--json", env=env, cwd=cwd)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["topic"] == "smoking"
    out = earshot("alerts", "list", "--topic", "Smoking and Vaping", "--json", env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr
    assert {a["topic"] for a in json.loads(out.stdout)} <= {"smoking"}
    out = earshot("export", imported["tmp"] / "s.jsonl", "--topic", "smoking and vaping", env=env, cwd=cwd)
    assert out.returncode == 0 and "wrote 81 posts" in out.stdout, out.stdout + out.stderr

    messages = set()
    for args in (("influencers", "flu"), ("alerts", "list", "--topic", "flu"), ("export", "x.jsonl", "--topic", "flu"),
                 ("alerts", "backtest", "flu", "--since", "2021-03-01"), ("alerts", "detect", "--topic", "flu"),
                 ("briefing", "list", "--topic", "flu")):
        out = earshot(*args, env=env, cwd=cwd)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        messages.add(out.stderr.strip().splitlines()[-1])
    assert len(messages) == 1, messages
    (message,) = messages
    assert message.startswith("no topic 'flu'; topics: waiting_times (NHS waiting times); ")
    assert "vaccination (Vaccination)" in message and "smoking (Smoking and vaping)" in message


# ---------------------------------------------------------------------------------------- 2: the store

def test_an_empty_store_is_said_to_be_empty_not_ranked(user):
    env, cwd = user["env"], user["cwd"]
    page = user["tmp"] / "page.html"
    out = earshot("influencers", "smoking", "--export", "html", "--out", page, env=env, cwd=cwd)
    assert out.returncode == 1
    assert f"there is no store yet at {user['db']}" in out.stderr and "earshot demo" in out.stderr
    assert not page.exists() and not user["db"].exists() and not (cwd / "var").exists()
    st = earshot("status", env=env, cwd=cwd)  # status makes the store, and says it is empty
    assert st.returncode == 0, st.stderr
    assert "the store holds no posts yet" in st.stdout
    out = earshot("influencers", "smoking", "--export", "html", "--out", page, env=env, cwd=cwd)
    assert out.returncode == 1 and "holds no posts" in out.stderr and not page.exists()
    assert earshot("export", user["tmp"] / "e.jsonl", env=env, cwd=cwd).returncode == 1


def test_every_command_finds_the_same_store_wherever_it_runs(imported, tmp_path):
    other = tmp_path / "another" / "folder"
    other.mkdir(parents=True)
    env = {**imported["env"], "EARSHOT_DATA_DIR": os.path.relpath(imported["data"], other)}
    out = earshot("status", "--json", env=env, cwd=other)  # a relative data folder is taken from the working one
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js["store"]["data_dir"] == str(imported["data"]) and js["totals"]["posts"] == 81
    assert not (other / "var").exists()


def test_the_default_data_folder_is_anchored(tmp_path, monkeypatch):
    monkeypatch.delenv("EARSHOT_DATA_DIR")
    monkeypatch.delenv("EARSHOT_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    s = settings_module.load_settings()
    assert s.data_dir == ROOT / "var"  # running from the checkout: its var/, not the working folder's
    assert s.database_url == f"sqlite:///{ROOT / 'var' / 'earshot.db'}"
    assert settings_module.data_dir_origin() == "default: the project checkout's var/"
    # an installed package (no checkout around it): the per-user data folder
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert settings_module.load_settings().data_dir == tmp_path / "xdg" / "earshot"
    assert settings_module.data_dir_origin() == "default: the per-user data folder"


# ---------------------------------------------------------------------------------------- 5: configuration

BROKEN = 'topics:\n  flu:\n    label: Flu\n    query: "flu OR\n      influenza\n'  # 5 lines, quote at 4:12


def test_read_only_commands_work_with_a_broken_config_and_warn(imported):
    env, cwd = imported["env"], imported["cwd"]
    bad = imported["tmp"] / "broken.yaml"
    bad.write_text(BROKEN)
    for how, args in ((("--config", bad), ("status",)), ((), ("alerts", "list")),
                      (("--config", bad), ("alerts", "list", "--topic", "smoking"))):
        out = earshot(*how, *args, env={**env, "EARSHOT_CONFIG": str(bad)} if not how else env, cwd=cwd)
        assert out.returncode == 0, (args, out.stderr)
        assert "configuration error" in out.stderr and f"{bad} line 4" in out.stderr
        assert "Traceback" not in out.stderr
    out = earshot("--config", bad, "alerts", "list", "--topic", "flu", env=env, cwd=cwd)
    assert out.returncode == 2 and "no topic 'flu' in the store" in out.stderr
    out = earshot("--config", bad, "collect", env=env, cwd=cwd)  # needs the configuration: stops
    assert out.returncode == 2 and "configuration error" in out.stderr


def test_a_yaml_syntax_error_is_reported_where_it_starts(user):
    bad = user["tmp"] / "broken.yaml"
    bad.write_text(BROKEN)
    out = earshot("--config", bad, "topics", "check", env=user["env"], cwd=user["cwd"])
    assert out.returncode == 2
    assert f"{bad} line 4: not valid YAML: quoted text starting at column 12 is not closed" in out.stderr
    assert "line 6" not in out.stderr and "end of stream" not in out.stderr


def test_every_command_takes_config(user):
    good = user["tmp"] / "mine.yaml"
    good.write_text("topics:\n  flu:\n    label: Seasonal flu\n    query: flu OR influenza\n")
    env, cwd = user["env"], user["cwd"]
    out = earshot("--config", good, "topics", "check", env=env, cwd=cwd)
    assert out.returncode == 0 and out.stdout.startswith(f"{good}: OK — 1 topics"), out.stdout + out.stderr
    out = earshot("--config", good, "topics", "test", "Influenza season starts early", env=env, cwd=cwd)
    assert out.returncode == 0 and out.stdout.startswith("flu (Seasonal flu)")
    out = earshot("--config", good, "alerts", "list", "--topic", "Seasonal Flu", env=env, cwd=cwd)
    assert out.returncode == 0 and "no alerts" in out.stdout, out.stderr
    js = json.loads(earshot("--config", good, "status", "--json", env=env, cwd=cwd).stdout)
    assert list(js["topics"]) == ["flu"] and js["config"]["path"] == str(good)
    # --config is the group's option, so every command, plugged in or not, has it
    out = earshot("--help", env=env, cwd=cwd)
    assert "--config" in out.stdout


# ---------------------------------------------------------------------------------------- 8: output

def test_run_once_prints_each_job_once_in_words(user):
    cfg = user["tmp"] / "k.yaml"
    cfg.write_text("topics:\n  smoking:\n    label: Smoking\n    query: smoking\n")
    out = earshot("--config", cfg, "run", "--once", env=user["env"], cwd=user["cwd"])
    assert out.returncode == 0, out.stderr
    jobs = [line for line in out.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    names = [line.split(" ", 1)[1].split(":", 1)[0] for line in jobs]
    assert sorted(names) == sorted(set(names)) and "influence recompute" in names, out.stdout
    assert "{" not in out.stdout and "INFO" not in out.stdout + out.stderr
    assert "succeeded" not in out.stderr

"""Exports parse back with scores and communities; the plotly picture; ``earshot influencers`` as users run it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import networkx as nx
import plotly.graph_objects as go
import pytest

from influence import influencers, network_figure
from influence.analysis import analyse
from influence.export import export
from monitor.store import Store
from tests.conftest import ROOT
from tests.influence.network import TOPIC, acc, ids, post
from tests.influence.test_lookup import CUR, two_weeks


@pytest.fixture
def analysis(sqlite_store):
    two_weeks(sqlite_store)
    sqlite_store.write_batch([post("evil", "villain", minutes=70, mentions=["new_star"],
                                   text="hello @new_star carers")],
                             [acc("villain", "villain", 1)])
    from sqlalchemy import update

    from monitor import models as m
    with sqlite_store.engine.begin() as conn:  # a display name from a stranger
        conn.execute(update(m.accounts).where(m.accounts.c.platform_id == "villain")
                     .values(name='=HYPERLINK("http://x.example")<script>alert(1)</script>'))
    return analyse(sqlite_store, TOPIC, CUR[0], CUR[1], stakeholders=["new_star"])


def test_gexf_and_graphml_parse_back_with_scores_and_communities(analysis, sqlite_store, tmp_path):
    idm = ids(sqlite_store)
    for fmt, reader in (("gexf", nx.read_gexf), ("graphml", nx.read_graphml)):
        [path] = export(analysis, tmp_path / f"g.{fmt}", fmt, store=sqlite_store)
        G = reader(path)
        assert G.number_of_nodes() == analysis.graph.n and G.number_of_edges() == analysis.graph.pairs
        star = G.nodes[str(idm["new_star"])]
        assert star["rank"] == 1 and star["stakeholder"] in (True, "true")
        assert float(star["score"]) == pytest.approx(analysis.scores.score.max())
        assert int(star["community"]) == int(analysis.membership[analysis.graph.index(idm["new_star"])])
        assert star["followers"] == 250 and star["amplifiers"] == 10
        ring = G.nodes[str(idm["r0"])]
        assert ring["flagged"] in (True, "true") and "coordinated" in ring["flags"]
        e = G[str(idm["f0"])][str(idm["new_star"])]
        assert e["retweets"] == 1 and float(e["weight"]) == 1.0


def test_csv_nodes_and_edges(analysis, sqlite_store, tmp_path):
    nodes, edges = export(analysis, tmp_path / "out.csv", "csv", store=sqlite_store)
    assert nodes.name == "out-nodes.csv" and edges.name == "out-edges.csv"
    rows = list(csv.DictReader(open(nodes, encoding="utf-8")))
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["label"] == "@new_star" and rows[0]["stakeholder"] == "True"
    evil = next(r for r in rows if r["handle"] == "villain")
    assert evil["name"].startswith("'=HYPERLINK(")  # cannot run as a spreadsheet formula
    erows = list(csv.DictReader(open(edges, encoding="utf-8")))
    assert len(erows) == analysis.graph.pairs
    assert sum(int(r["retweets"]) + int(r["quotes"]) for r in erows) == int(analysis.graph.amplification.sum())


def test_network_figure_from_analysis_and_from_stored_ranking(analysis, sqlite_store, tmp_path):
    fig = network_figure(analysis, top=100)
    assert isinstance(fig, go.Figure)
    markers = [t for t in fig.data if t.mode == "markers+text"]
    assert sum(len(t.x) for t in markers) == analysis.graph.n
    hover = " ".join(h for t in markers for h in t.hovertext)
    assert "<script>" not in hover and "&lt;script&gt;" in hover
    big = max((s for t in markers for s in t.marker.size))
    assert big == pytest.approx(40.0)  # the top account
    r = influencers(sqlite_store, TOPIC, since=CUR[0], until=CUR[1], limit=15)
    fig2 = network_figure(r, store=sqlite_store, top=15)
    assert sum(len(t.x) for t in fig2.data if t.mode == "markers+text") == 15
    edges = fig2.data[0]
    assert len([x for x in edges.x if x is None]) > 0
    [html_path] = export(analysis, tmp_path / "net.html", "html", store=sqlite_store)
    assert "plotly" in html_path.read_text()[:5000].lower()
    with pytest.raises(ValueError, match="store"):
        network_figure(r)


def run(*args, env):
    e = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=120)


def test_cli_influencers(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    s = Store(url)
    two_weeks(s)
    s.dispose()
    env = {"EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_DATABASE_URL": url}
    since, until = CUR[0].isoformat(), CUR[1].isoformat()
    out = run("influencers", TOPIC, "--since", since, "--until", until, "--limit", "5", env=env)
    assert out.returncode == 0, out.stderr
    assert "Influencers on Adult social care" in out.stdout and "computed now" in out.stdout
    assert "@new_star" in out.stdout.splitlines()[6]  # the first row under the header
    out = run("influencers", TOPIC, "--since", since, "--until", until, "--why", "@new_star", "--why", "@ringr0",
              "--communities", env=env)
    assert out.returncode == 0, out.stderr
    assert "stored result" in out.stdout and "amplified by 10 distinct accounts" in out.stdout
    assert "flag coordinated" in out.stdout and "communities (" in out.stdout
    out = run("influencers", TOPIC, "--since", since, "--until", until, "--json", "--exclude-flagged",
              "--export", "gexf", "--out", tmp_path / "t.gexf", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["exclude_flagged"] is True and data["excluded_interactions"] == 18
    assert data["accounts"][0]["handle"] == "new_star" and data["exported"] == [str(tmp_path / "t.gexf")]
    assert nx.read_gexf(tmp_path / "t.gexf").number_of_nodes() > 10
    bad = run("influencers", "no_such_topic", env=env)
    assert bad.returncode == 2 and "no topic 'no_such_topic'" in bad.stderr
    bad = run("influencers", TOPIC, "--since", until, "--until", since, env=env)
    assert bad.returncode == 2 and "window is empty" in bad.stderr and "Traceback" not in bad.stderr
    help_ = run("influencers", "--help", env=env)
    assert "--exclude-flagged" in help_.stdout and "not from follower counts" in help_.stdout


def test_figure_marks_flagged_and_boosted_accounts_and_places_labels_apart(analysis, sqlite_store):
    from influence.figure import _overlap, label_box

    idm = ids(sqlite_store)
    fig = network_figure(analysis, top=100, label="Adult social care")
    assert fig.layout.title.text.startswith("Influential accounts: Adult social care")
    assert "every account" in fig.layout.title.text  # 100 > the network: nothing left out
    markers = [t for t in fig.data if t.mode == "markers+text"]
    sym = {}
    for t in markers:
        for h, s_ in zip(t.hovertext, t.marker.symbol):
            sym[h.split("</b>")[0][3:]] = s_
    assert all(sym[f"@ringr{i}"] == "x" for i in range(6)) and sym["@promo_org"] == "diamond"
    assert sym["@new_star"] == "circle"
    names = [t.name for t in fig.data if t.mode == "markers"]
    assert any(n.startswith("\u2715 flagged") for n in names) and any(n.startswith("\u25c6 boosted") for n in names)
    # a hub and thirty spokes around it: the labels that are drawn overlap neither each other nor markers
    posts = [post("hub1", "hub", minutes=10, text="carers hub post")]
    posts += [post(f"sp{i}", f"s{i}", "retweet", 11 + i * 0.1, ref=("retweet", "hub1", "hub")) for i in range(30)]
    sqlite_store.write_batch(posts, [acc("hub", "the_hub_account", 10)] + [acc(f"s{i}", f"spoke_number_{i}")
                                                                            for i in range(30)])
    a = analyse(sqlite_store, TOPIC, CUR[0], CUR[1])
    fig = network_figure(a, top=40)
    assert "of " + str(a.graph.n) + " accounts" in fig.layout.title.text and "left out" in fig.layout.title.text
    xr, yr = tuple(fig.layout.xaxis.range), tuple(fig.layout.yaxis.range)
    boxes, naive = [], []
    for t in (t for t in fig.data if t.mode == "markers+text"):
        for x, y, text, p, size in zip(t.x, t.y, t.text, t.textposition, t.marker.size):
            naive.append(label_box("@spoke_number_10", x, y, size, "top center", xr, yr))
            if text:
                boxes.append(label_box(text, x, y, size, p, xr, yr))
    assert len(boxes) >= 5
    assert not any(_overlap(b1, b2) for i, b1 in enumerate(boxes) for b2 in boxes[i + 1:])
    assert any(_overlap(b1, b2) for i, b1 in enumerate(naive) for b2 in naive[i + 1:])  # the case is not trivial
    assert idm  # the store is the fixture's


def test_empty_network_figure_says_so(sqlite_store):
    a = analyse(sqlite_store, TOPIC, CUR[0], CUR[1])
    fig = network_figure(a, label="Adult social care")
    assert [x.text for x in fig.layout.annotations] == [
        "No interactions on Adult social care in this window: nobody to draw."]
    assert "Adult social care" in fig.layout.title.text and not fig.data


def test_cli_why_several_accounts_and_exclude_flagged_counts(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    s = Store(url)
    two_weeks(s)
    s.write_batch([post("lone", "loner", minutes=10, text="carers: a post nobody answers")], [acc("loner", "loner")])
    s.dispose()
    env = {"EARSHOT_DATA_DIR": str(tmp_path / "var"), "EARSHOT_DATABASE_URL": url}
    win = ["--since", CUR[0].isoformat(), "--until", CUR[1].isoformat()]
    out = run("influencers", TOPIC, *win, "--why", "@nobody_here", "--why", "@new_star", "--why", "@loner",
              "--limit", "1000", env=env)
    assert out.returncode == 1
    assert "amplified by 10 distinct accounts" in out.stdout  # the known account is explained
    assert "chg  account" not in out.stdout and "Influencers on Adult social care" in out.stdout  # no table again
    assert "@nobody_here: no account with that handle in the store" in out.stderr
    assert "@loner: not in the network of Adult social care" in out.stderr and "raise the limit" not in out.stderr
    out = run("influencers", TOPIC, *win, "--exclude-flagged", env=env)
    assert out.returncode == 0, out.stderr
    head = out.stdout.splitlines()[1]
    n = json.loads(run("influencers", TOPIC, *win, "--json", env=env).stdout)["interactions"]
    assert f"{n - 18} interactions scored (18 by the 6 accounts flagged as automated or coordinated left out of " \
           f"{n} read)" in head
    out = run("influencers", TOPIC, *win, "--export", "html", "--out", tmp_path / "f.html", env=env)
    page = (tmp_path / "f.html").read_text()
    assert out.returncode == 0 and "Influential accounts: Adult social care" in page
    assert "the top 22 of 22 accounts by influence score (every account)" in page
    empty = ["--since", "2020-01-01", "--until", "2020-01-08"]
    out = run("influencers", TOPIC, *empty, "--export", "html", "--out", tmp_path / "e.html", env=env)
    assert out.returncode == 0 and "nobody to draw" in out.stdout
    assert "nobody to draw" in (tmp_path / "e.html").read_text()

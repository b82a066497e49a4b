"""Exports of a topic's graph for Gephi and other tools: GEXF, GraphML, CSV, and the HTML picture.

Nodes are accounts (id = the store's account id, ``label`` = @handle) with these
attributes: ``handle``, ``name``, ``platform``, ``rank``, ``score``,
``pagerank``, ``in_degree``, ``authority``, ``betweenness``, ``community``
(-1: none), ``amplifiers``, ``amplifications``, ``replies``, ``mentions``,
``posts``, ``followers`` (-1: unknown), ``flagged``, ``flags`` (the signal
kinds, comma separated), ``ring`` (its coordinated group, -1: none),
``boosted_share`` (share of the retweets and quotes it received that came from
flagged accounts, when that makes it boosted; 0 otherwise), ``boosted_by``
(e.g. "ring 1" or "ring 1, flagged"), ``stakeholder``, ``partial`` (no user object). Edges
go from the account that acted to the account acted on, with ``weight``
(kind-weighted interactions) and the counts ``retweets``, ``quotes``,
``replies``, ``mentions``. GEXF and GraphML carry no empty values, hence the
-1 and "" placeholders.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import networkx as nx

from influence.analysis import Analysis, account_info
from influence.graph import KINDS, MENTION, QUOTE, REPLY, RETWEET
from monitor.store import Store

FORMATS = ("gexf", "graphml", "csv", "html")

NODE_FIELDS = ("id", "label", "handle", "name", "platform", "rank", "score", "pagerank", "in_degree", "authority",
               "betweenness", "community", "amplifiers", "amplifications", "replies", "mentions", "posts",
               "followers", "flagged", "flags", "ring", "boosted_share", "boosted_by", "stakeholder", "partial")
EDGE_FIELDS = ("source", "target", "weight", "retweets", "quotes", "replies", "mentions")


_HANDLE_LABEL = re.compile(r"^@\w+$")


def _csv_safe(value):
    """Text from strangers must not run as a spreadsheet formula (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _HANDLE_LABEL.match(value):
        return "'" + value
    return value


def _complete_accounts(store: Store | None, a: Analysis) -> None:
    missing = set(a.graph.account_ids.tolist()) - set(a.accounts)
    if missing and store is not None:
        a.accounts.update(account_info(store, missing))


def node_rows(a: Analysis) -> list[dict]:
    """One dict per account (see the module doc), best rank first."""
    rows = []
    for v in a.scores.order.tolist():
        s = a.node_score(v)
        rows.append({
            "id": s.account_id, "label": s.display, "handle": s.handle or "", "name": s.name or "",
            "platform": s.platform or "", "rank": s.rank, "score": round(s.score, 6), "pagerank": s.pagerank,
            "in_degree": s.in_degree, "authority": s.authority, "betweenness": s.betweenness,
            "community": -1 if s.community is None else s.community, "amplifiers": s.amplifiers,
            "amplifications": s.amplifications, "replies": s.replies, "mentions": s.mentions, "posts": s.posts,
            "followers": -1 if s.followers is None else s.followers, "flagged": s.flagged,
            "flags": ",".join(f["kind"] for f in s.flags), "ring": _ring(a, s.account_id),
            "boosted_share": s.boosted["share"] if s.boosted else 0.0, "boosted_by": _boosted_by(s.boosted),
            "stakeholder": s.stakeholder, "partial": s.partial,
        })
    return rows


def _ring(a: Analysis, account_id: int) -> int:
    f = a.flags.get(account_id)
    r = f.ring if f is not None else None
    return -1 if r is None else int(r)


def _boosted_by(b) -> str:
    if not b:
        return ""
    who = [f"ring {r['ring']}" for r in b.get("rings", [])]
    if b.get("other_flagged"):
        who.append("flagged")
    return ", ".join(who)


def edge_rows(a: Analysis) -> list[dict]:
    """One dict per (source, target) pair with its weight and counts per kind."""
    g = a.graph
    s, d, c = g.pair_counts()
    ids = g.account_ids
    w = g.kind_weights
    out = []
    for x, y, cnt in zip(s.tolist(), d.tolist(), c.tolist()):
        weight = sum(cnt[k] * w[KINDS[k]] for k in range(len(KINDS)))
        out.append({"source": int(ids[x]), "target": int(ids[y]), "weight": weight, "retweets": cnt[RETWEET],
                    "quotes": cnt[QUOTE], "replies": cnt[REPLY], "mentions": cnt[MENTION]})
    return out


def to_networkx(a: Analysis, store: Store | None = None) -> nx.DiGraph:
    """The topic graph with scores and communities as node attributes (nodes keyed by account id as text)."""
    _complete_accounts(store, a)
    G = nx.DiGraph(topic=a.topic, platform=a.platform, since=a.since.isoformat() if a.since else "",
                   until=a.until.isoformat() if a.until else "", exclude_flagged=a.exclude_flagged)
    for r in node_rows(a):
        G.add_node(str(r["id"]), **{k: v for k, v in r.items() if k != "id"})
    for e in edge_rows(a):
        G.add_edge(str(e["source"]), str(e["target"]), **{k: v for k, v in e.items() if k not in ("source", "target")})
    return G


def export(a: Analysis, path: str | Path, fmt: str, *, store: Store | None = None, top: int = 50,
           label: str | None = None) -> list[Path]:
    """Write ``a`` as ``fmt`` (gexf, graphml, csv or html) and return the files written.

    ``csv`` writes two files beside ``path``: ``<stem>-nodes.csv`` and ``<stem>-edges.csv``.
    ``html`` writes the interactive network figure of the ``top`` accounts (plotly.js inlined: the
    file opens offline), titled with ``label`` (the topic's label) when given.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("gexf", "graphml"):
        G = to_networkx(a, store)
        (nx.write_gexf if fmt == "gexf" else nx.write_graphml)(G, path)
        return [path]
    if fmt == "csv":
        _complete_accounts(store, a)
        stem = path.name[:-4] if path.name.lower().endswith(".csv") else path.name
        nodes, edges = path.with_name(f"{stem}-nodes.csv"), path.with_name(f"{stem}-edges.csv")
        for file, fields, rows in ((nodes, NODE_FIELDS, node_rows(a)), (edges, EDGE_FIELDS, edge_rows(a))):
            with open(file, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=fields)
                w.writeheader()
                w.writerows({k: _csv_safe(v) for k, v in r.items()} for r in rows)
        return [nodes, edges]
    from influence.figure import network_figure

    fig = network_figure(a, top=top, store=store, label=label)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return [path]

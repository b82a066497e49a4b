"""The picture: an interactive plotly network of a topic's top accounts.

Node size follows the influence score, colour the community; hovering shows
the account, its rank and score, followers (shown, not scored), community and
flags. Edges are the interactions among the accounts shown. Names and handles
come from strangers and are HTML-escaped before they reach the hover text.
The layout is networkx's spring layout with a fixed seed, so the same ranking
draws the same picture.
"""

from __future__ import annotations

import html
import math
from typing import Union

import networkx as nx
import plotly.graph_objects as go
from sqlalchemy import func, select

from influence.analysis import AccountScore, Analysis, Ranking
from influence.graph import ALL_PLATFORMS, KIND_WEIGHTS
from monitor import models as m
from monitor.store import Store

SEED = 42
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")
OTHER = "#c7c7c7"


def _edges_among(store: Store, r: Ranking, ids: list[int]) -> dict[tuple[int, int], float]:
    i, pt = m.interactions, m.post_topics
    q = (select(i.c.src_account_id, i.c.dst_account_id, i.c.kind, func.count())
         .select_from(pt.join(i, (i.c.post_id == pt.c.post_id) & (pt.c.topic == r.topic)))
         .where(i.c.src_account_id.in_(ids), i.c.dst_account_id.in_(ids), i.c.src_account_id != i.c.dst_account_id))
    if r.since is not None:
        q = q.where(pt.c.created_at >= r.since)
    if r.until is not None:
        q = q.where(pt.c.created_at < r.until)
    if r.platform != ALL_PLATFORMS:
        q = q.where(i.c.platform == r.platform)
    q = q.group_by(i.c.src_account_id, i.c.dst_account_id, i.c.kind)
    out: dict[tuple[int, int], float] = {}
    with store.engine.connect() as conn:
        for s, d, kind, n in conn.execute(q):
            out[(s, d)] = out.get((s, d), 0.0) + n * KIND_WEIGHTS.get(kind, 0.5)
    return out


def network_figure(source: Union[Analysis, Ranking], *, top: int = 50, store: Store | None = None,
                   title: str | None = None) -> go.Figure:
    """A plotly figure of the ``top`` accounts of an analysis or a ranking.

    Parameters
    ----------
    source : Analysis or Ranking
        A fresh :class:`Analysis` (edges come from its graph), or a :class:`Ranking` (stored or fresh;
        then ``store`` is needed to read the interactions among the accounts shown).
    top : int
        How many of the best-ranked accounts to draw.
    store : Store, optional
        Needed with a Ranking.
    title : str, optional
        Figure title (default: the topic and window).

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if isinstance(source, Analysis):
        order = source.scores.order[:top].tolist()
        accounts = [source.node_score(v) for v in order]
        g = source.graph
        pos_of = {v: k for k, v in enumerate(order)}
        W = g.interaction
        weights: dict[tuple[int, int], float] = {}
        for v in order:
            for j, w in zip(W.indices[W.indptr[v]:W.indptr[v + 1]].tolist(),
                            W.data[W.indptr[v]:W.indptr[v + 1]].tolist()):
                if j in pos_of:
                    weights[(int(g.account_ids[v]), int(g.account_ids[j]))] = float(w)
        communities = {c.id: c for c in source.communities}
        topic, since, until = source.topic, source.since, source.until
    else:
        accounts = sorted(source.accounts, key=lambda a: a.rank)[:top]
        if store is None:
            raise ValueError("network_figure needs the store to draw a Ranking's edges (store=...)")
        weights = _edges_among(store, source, [a.account_id for a in accounts]) if accounts else {}
        communities = {c.id: c for c in source.communities}
        topic, since, until = source.label or source.topic, source.since, source.until
    H = nx.Graph()
    H.add_nodes_from(a.account_id for a in accounts)
    for (s, d), w in sorted(weights.items()):
        if H.has_edge(s, d):
            H[s][d]["weight"] += w
        else:
            H.add_edge(s, d, weight=w)
    pos = nx.spring_layout(H, seed=SEED, weight="weight") if len(H) else {}
    fig = go.Figure()
    ex, ey = [], []
    for s, d in H.edges():
        ex += [pos[s][0], pos[d][0], None]
        ey += [pos[s][1], pos[d][1], None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"width": 0.6, "color": "#999"}, hoverinfo="skip",
                             showlegend=False, name="interactions"))
    top_score = max((a.score for a in accounts), default=1.0) or 1.0
    groups: dict[int | None, list[AccountScore]] = {}
    for a in accounts:
        key = a.community if a.community is not None and a.community < len(PALETTE) else None
        groups.setdefault(key, []).append(a)
    for key in sorted(groups, key=lambda k: (k is None, k if k is not None else 0)):
        members = groups[key]
        c = communities.get(key) if key is not None else None
        name = (f"community {key}" + (f": {html.escape(c.label[:60])}" if c else "")) if key is not None else "other"
        fig.add_trace(go.Scatter(
            x=[pos[a.account_id][0] for a in members], y=[pos[a.account_id][1] for a in members],
            mode="markers+text", name=name,
            text=[html.escape(a.display) if a.rank <= 15 else "" for a in members], textposition="top center",
            textfont={"size": 10},
            marker={"size": [10 + 30 * math.sqrt(max(a.score, 0.0) / top_score) for a in members],
                    "color": PALETTE[key] if key is not None else OTHER,
                    "line": {"width": [3 if a.flagged else 1 for a in members],
                             "color": ["#d62728" if a.flagged else "#333" for a in members]}},
            hovertext=[_hover(a, communities) for a in members], hoverinfo="text",
        ))
    window = ""
    if since is not None and until is not None:
        window = f", {since:%d %b %Y} \u2013 {until:%d %b %Y}"
    fig.update_layout(
        title=title or f"Influential accounts: {html.escape(str(topic))}{window}",
        showlegend=True, hovermode="closest", plot_bgcolor="white",
        xaxis={"visible": False}, yaxis={"visible": False}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"title": {"text": "community"}},
    )
    return fig


def _hover(a: AccountScore, communities) -> str:
    c = communities.get(a.community)
    lines = [f"<b>{html.escape(a.display)}</b>" + (f" ({html.escape(a.name)})" if a.name and a.handle else ""),
             f"rank {a.rank}, score {a.score:.1f}",
             f"amplified by {a.amplifiers} accounts ({a.amplifications} retweets/quotes)",
             f"followers: {a.followers if a.followers is not None else 'unknown'} (not scored)"]
    if c is not None:
        lines.append(f"community {c.id}: {html.escape(c.label[:80])}")
    if a.stakeholder:
        lines.append("stakeholder")
    if a.flagged:
        lines.append("flagged: " + html.escape(", ".join(f["kind"] for f in a.flags)))
    return "<br>".join(lines)


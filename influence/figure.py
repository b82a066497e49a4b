"""The picture: an interactive plotly network of a topic's top accounts.

Node size follows the influence score, colour the community, the symbol whether
the account is flagged (a cross) or boosted by flagged accounts (a diamond);
hovering shows the account, its rank and score, followers (shown, not scored),
community, flags and boost. The title names the topic by its label and says how
many accounts of the network are left out; labels never overlap each other or
another account's marker; an empty network shows a message. Edges are the
interactions among the accounts shown. Names and handles
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
from influence.bots import describe_boost
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


#: Figure size in pixels (fixed, so label boxes can be placed without overlaps).
WIDTH, HEIGHT = 1100, 760
MARGIN = {"l": 10, "r": 10, "t": 90, "b": 10}
LEGEND_PX = 260  # the legend's column on the right
FONT_PX = 10
LABELLED = 25  # at most this many of the best-ranked accounts get a label (every account has hover text)
#: Marker symbols: flagged accounts (automated or coordinated) and accounts boosted by flagged accounts.
SYMBOL = {"flagged": "x", "boosted": "diamond", None: "circle"}


def network_figure(source: Union[Analysis, Ranking], *, top: int = 50, store: Store | None = None,
                   title: str | None = None, label: str | None = None) -> go.Figure:
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
        Figure title (default: the topic's label, or its id, and the window, and how many accounts are
        left out).
    label : str, optional
        The topic's label (a Ranking carries its own).

    Returns
    -------
    plotly.graph_objects.Figure
        Markers sized by score and coloured by community; flagged accounts drawn as crosses, accounts
        boosted by flagged accounts as diamonds; labels placed so that no two overlap and none covers
        another account's marker (an account whose label cannot be placed keeps its hover text). An empty
        network gives a figure with a message instead of a blank chart.
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
        topic, since, until = label or source.topic, source.since, source.until
        total, flagged_total = g.n, len(source.flagged_ids)
    else:
        accounts = sorted(source.accounts, key=lambda a: a.rank)[:top]
        if store is None:
            raise ValueError("network_figure needs the store to draw a Ranking's edges (store=...)")
        weights = _edges_among(store, source, [a.account_id for a in accounts]) if accounts else {}
        communities = {c.id: c for c in source.communities}
        topic, since, until = label or source.label or source.topic, source.since, source.until
        total, flagged_total = source.network_accounts, source.flagged_accounts
    window = ""
    if since is not None and until is not None:
        window = f", {since:%d %b %Y} \u2013 {until:%d %b %Y}"
    left_out = max(total - len(accounts), 0)
    drawn_flagged = sum(1 for a in accounts if a.flagged)
    sub = (f"the top {len(accounts):,} of {total:,} accounts by influence score"
           + (f" ({left_out:,} left out)" if left_out else " (every account)")
           + f"; {flagged_total:,} flagged as automated or coordinated in the network, {drawn_flagged} drawn"
           + "; lines: interactions among the accounts drawn")
    head = title or f"Influential accounts: {html.escape(str(topic))}{window}"
    fig = go.Figure()
    fig.update_layout(
        title={"text": f"{head}<br><sup>{html.escape(sub)}</sup>"},
        showlegend=True, hovermode="closest", plot_bgcolor="white", width=WIDTH, height=HEIGHT,
        margin=MARGIN, legend={"title": {"text": "community"}},
    )
    if not accounts:
        fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False})
        fig.add_annotation(text=f"No interactions on {html.escape(str(topic))} in this window: nobody to draw.",
                           x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 16})
        return fig
    H = nx.Graph()
    H.add_nodes_from(a.account_id for a in accounts)
    for (s, d), w in sorted(weights.items()):
        if H.has_edge(s, d):
            H[s][d]["weight"] += w
        else:
            H.add_edge(s, d, weight=w)
    pos = nx.spring_layout(H, seed=SEED, weight="weight")
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    pad_x = 0.12 * (max(xs) - min(xs) or 1.0)
    pad_y = 0.08 * (max(ys) - min(ys) or 1.0)
    xr = (min(xs) - pad_x, max(xs) + pad_x)
    yr = (min(ys) - pad_y, max(ys) + pad_y)
    top_score = max((a.score for a in accounts), default=1.0) or 1.0
    size = {a.account_id: 10 + 30 * math.sqrt(max(a.score, 0.0) / top_score) for a in accounts}
    placed = place_labels(accounts, pos, size, xr, yr)
    ex, ey = [], []
    for s, d in H.edges():
        ex += [pos[s][0], pos[d][0], None]
        ey += [pos[s][1], pos[d][1], None]
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"width": 0.6, "color": "#999"}, hoverinfo="skip",
                             showlegend=False, name="interactions"))
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
            text=[html.escape(a.display) if a.account_id in placed else "" for a in members],
            textposition=[placed.get(a.account_id, "top center") for a in members],
            textfont={"size": FONT_PX},
            marker={"size": [size[a.account_id] for a in members],
                    "color": PALETTE[key] if key is not None else OTHER,
                    "symbol": [SYMBOL[_mark(a)] for a in members],
                    "line": {"width": [3 if _mark(a) else 1 for a in members],
                             "color": [MARK_COLOUR[_mark(a)] for a in members]}},
            hovertext=[_hover(a, communities) for a in members], hoverinfo="text",
        ))
    for mark, text in (("flagged", "\u2715 flagged: automated or coordinated"),
                       ("boosted", "\u25c6 boosted: amplified mostly by flagged accounts")):
        if any(_mark(a) == mark for a in accounts):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=text, hoverinfo="skip",
                                     marker={"symbol": SYMBOL[mark], "size": 12, "color": "white",
                                             "line": {"width": 3, "color": MARK_COLOUR[mark]}}))
    fig.update_layout(xaxis={"visible": False, "range": list(xr)}, yaxis={"visible": False, "range": list(yr)})
    return fig


MARK_COLOUR = {"flagged": "#d62728", "boosted": "#ff7f0e", None: "#333"}


def _mark(a: AccountScore) -> str | None:
    if a.flagged:
        return "flagged"
    if a.boosted:
        return "boosted"
    return None


_POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
              "bottom right", "bottom left")


def label_box(text: str, x: float, y: float, marker_px: float, position: str, xr: tuple[float, float],
              yr: tuple[float, float]) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1, in data units) that a label of ``text`` at ``position`` of a marker covers.

    Character widths are over-estimated (0.65 em a character), so boxes that do not intersect do not
    overlap on screen.
    """
    px_x = (xr[1] - xr[0]) / (WIDTH - MARGIN["l"] - MARGIN["r"] - LEGEND_PX)
    px_y = (yr[1] - yr[0]) / (HEIGHT - MARGIN["t"] - MARGIN["b"])
    w = (0.65 * FONT_PX * len(text) + 4) * px_x
    h = (FONT_PX * 1.3 + 2) * px_y
    gap_x = (marker_px / 2 + 2) * px_x
    gap_y = (marker_px / 2 + 2) * px_y
    vert, horiz = position.split()
    if vert == "top":
        y0 = y + gap_y
    elif vert == "bottom":
        y0 = y - gap_y - h
    else:
        y0 = y - h / 2
    if horiz == "center":
        x0 = x - w / 2
    elif horiz == "right":
        x0 = x + (gap_x if vert == "middle" else 0)
    else:
        x0 = x - w - (gap_x if vert == "middle" else 0)
    return (x0, y0, x0 + w, y0 + h)


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(accounts: list[AccountScore], pos, size: dict[int, float], xr, yr,
                 limit: int = LABELLED) -> dict[int, str]:
    """account id -> text position, for the best-ranked accounts whose label fits.

    Greedy, best rank first: a label takes the first of eight positions around its marker whose box
    overlaps no label already placed and no other account's marker; an account with no such position
    goes unlabelled (hover still names it).
    """
    px_x = (xr[1] - xr[0]) / (WIDTH - MARGIN["l"] - MARGIN["r"] - LEGEND_PX)
    px_y = (yr[1] - yr[0]) / (HEIGHT - MARGIN["t"] - MARGIN["b"])
    markers = {a.account_id: (pos[a.account_id][0] - size[a.account_id] / 2 * px_x,
                              pos[a.account_id][1] - size[a.account_id] / 2 * px_y,
                              pos[a.account_id][0] + size[a.account_id] / 2 * px_x,
                              pos[a.account_id][1] + size[a.account_id] / 2 * px_y) for a in accounts}
    boxes: list[tuple] = []
    out: dict[int, str] = {}
    for a in sorted(accounts, key=lambda a: a.rank)[:limit]:
        x, y = pos[a.account_id]
        for p in _POSITIONS:
            box = label_box(html.escape(a.display), x, y, size[a.account_id], p, xr, yr)
            if box[0] < xr[0] or box[2] > xr[1] or box[1] < yr[0] or box[3] > yr[1]:
                continue
            if any(_overlap(box, b) for b in boxes):
                continue
            if any(_overlap(box, mb) for k, mb in markers.items() if k != a.account_id):
                continue
            boxes.append(box)
            out[a.account_id] = p
            break
    return out


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
    if a.boosted:
        lines.append("boosted: " + html.escape(describe_boost(a.boosted)))
    return "<br>".join(lines)

"""Charts: static PNGs for the e-mail (attached by Content-ID) and the PDF.

matplotlib with the Agg backend: no browser, no network, a few tens of milliseconds a chart, and
byte-identical output for the same figures (the PNG's metadata is left out). plotly + kaleido
driving the system chromium was measured too (``bench/briefing.py --plotly``): a chromium start
and a few hundred milliseconds per image, for pictures the reader cannot tell apart in an
e-mail, so matplotlib is the default (see the README).

Each chart is drawn at twice its shown size (:data:`SCALE`) so it is sharp on phones and
high-density screens; the e-mail's ``<img>`` carries the shown ``width`` and ``height``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SCALE = 2
BLUE, GREY, RED, GREEN, INK = "#1d70b8", "#b1b4b6", "#d4351c", "#00703c", "#0b0c0c"
FONT = "DejaVu Sans"


@dataclass(frozen=True)
class Chart:
    cid: str  # Content-ID without the angle brackets
    filename: str
    png: bytes
    width: int  # shown size in CSS pixels
    height: int
    alt: str


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100 * SCALE, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=7, colors=INK)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)


def trend_chart(topic_id: str, label: str, weeks: list[str], posts: list[int], sentiment: list[float | None],
                width: int = 560, height: int = 180) -> Chart:
    """Posts per week (bars, this week darker) and mean sentiment (line) over the trend's weeks."""
    with plt.rc_context({"font.family": FONT}):
        fig, ax = plt.subplots(figsize=(width / 100, height / 100))
        x = list(range(len(weeks)))
        ax.bar(x, posts, color=[GREY] * (len(x) - 1) + [BLUE], width=0.7)
        ax.set_xticks(x, [w.split("-")[1] for w in weeks], fontsize=6.5)
        ax.set_ylabel("posts", fontsize=7)
        _style(ax)
        ax2 = ax.twinx()
        pts = [(i, s) for i, s in enumerate(sentiment) if s is not None]
        if pts:
            ax2.plot([i for i, _ in pts], [s for _, s in pts], color=RED, marker="o", markersize=2.5, linewidth=1.2)
        ax2.set_ylim(-1, 1)
        ax2.axhline(0, color="#e5e5e5", linewidth=0.6)
        ax2.set_ylabel("sentiment", fontsize=7, color=RED)
        ax2.tick_params(labelsize=7, colors=RED)
        ax2.spines["top"].set_visible(False)
        fig.tight_layout(pad=0.4)
        png = _png(fig)
    alt = (f"{label}: posts per week over the last {len(weeks)} weeks, {posts[-1]:,} this week; "
           f"red line: mean sentiment")
    return Chart(f"trend-{topic_id}@earshot", f"trend-{topic_id}.png", png, width, height, alt)


def week_chart(topic_id: str, label: str, days: list[str], posts: list[int], width: int = 280,
               height: int = 120) -> Chart:
    """Posts per day of the week."""
    with plt.rc_context({"font.family": FONT}):
        fig, ax = plt.subplots(figsize=(width / 100, height / 100))
        x = list(range(len(days)))
        ax.bar(x, posts, color=BLUE, width=0.7)
        ax.set_xticks(x, [d.split()[0] for d in days], fontsize=6.5)
        _style(ax)
        fig.tight_layout(pad=0.3)
        png = _png(fig)
    busiest = max(range(len(posts)), key=lambda i: (posts[i], -i)) if any(posts) else None
    alt = f"{label}: posts per day this week" + (f", busiest {days[busiest]} ({posts[busiest]:,})" if busiest is not None else ", none")
    return Chart(f"week-{topic_id}@earshot", f"week-{topic_id}.png", png, width, height, alt)


def charts_for(content: dict) -> list[Chart]:
    out = []
    for t in content["topics"]:
        out.append(trend_chart(t["id"], t["label"], t["trend"]["weeks"], t["trend"]["posts"], t["trend"]["sentiment"]))
        out.append(week_chart(t["id"], t["label"], t["days"]["days"], t["days"]["posts"]))
    return out

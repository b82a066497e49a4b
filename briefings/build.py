"""The briefing's stages, each a plain function, run in order by :func:`build` and timed.

``gathering -> influence -> story_clustering -> compose -> charts -> rendering -> pdf``; :func:`build` returns the
result and each stage's wall time (``bench/briefing.py`` reports them, and peak memory). The
``influence`` stage reads the week's stored rankings (:mod:`briefings.rankings`: computed by the
scheduled step after the week ended) and computes only those missing.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from briefings.charts import Chart, charts_for
from briefings.compose import compose
from briefings.gather import Gathered, gather
from briefings.privacy import Naming
from briefings.rankings import rankings_for
from briefings.render import build_message, content_hash, render_html, render_pdf, render_text
from briefings.settings import BriefingSettings
from briefings.stories import cluster
from briefings.week import Week
from monitor.config import Config
from monitor.store import Store

log = logging.getLogger(__name__)

STAGES = ("gathering", "influence", "story_clustering", "compose", "charts", "rendering", "pdf")


@dataclass
class Rendered:
    html: str
    text: str
    pdf: bytes
    charts: list[Chart]


@dataclass
class Built:
    week: Week
    content: dict[str, Any]
    content_hash: str
    rendered: Rendered
    stages_s: dict[str, float] = field(default_factory=dict)
    rankings_computed: list[str] = field(default_factory=list)  # topics whose week ranking was not stored


def naming_for(config: Config, settings: BriefingSettings) -> Naming:
    stakeholders = {h.lower().lstrip("@") for t in config.topics.values() for h in t.stakeholders}
    return Naming(stakeholders=stakeholders, public=set(settings.public_accounts),
                  private=set(settings.private_accounts), min_followers=settings.public_min_followers)


class Stages:
    """Times each stage (and lets a benchmark watch memory around it): ``with stages("charts"): ...``."""

    def __init__(self, watch: Callable[[str], Any] | None = None):
        self.seconds: dict[str, float] = {}
        self._watch = watch

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        outer = self._watch(name) if self._watch else nullcontext()
        with outer:
            t = time.perf_counter()
            try:
                yield
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t


def render_all(content: dict[str, Any], *, edits: dict[str, Any] | None, status: str,
               archive_url: str | None = None, stages: Stages | None = None, charts: list[Chart] | None = None,
               pdf: bool = True) -> Rendered:
    """HTML, text and (unless ``pdf=False``: ``b""``, made later) the PDF; ``charts`` when already drawn."""
    stages = stages or Stages()
    if charts is None:
        with stages("charts"):
            charts = charts_for(content)
    with stages("rendering"):
        html = render_html(content, charts, edits=edits, status=status, archive_url=archive_url)
        text = render_text(content, edits=edits, status=status)
    data = b""
    if pdf:
        with stages("pdf"):
            data = render_pdf(html, charts)
    return Rendered(html, text, data, charts)


def build(store: Store, config: Config, week: Week, settings: BriefingSettings, *,
          topics: list[str] | None = None, stages: Stages | None = None) -> Built:
    """Build the week's briefing (as a draft's rendering); nothing is stored here (see archive.save_build)."""
    stages = stages or Stages()
    with stages("gathering"):
        g = gather(store, config, week, topics=topics)
    with stages("influence"):
        rankings, cold = rankings_for(store, config, g, settings.voices_per_topic)
    with stages("story_clustering"):
        stories = {tid: cluster(tw.posts, g.accounts, limit=settings.stories_per_topic) for tid, tw in g.topics.items()}
    with stages("compose"):
        content = compose(store, g, stories, rankings, settings, naming_for(config, settings))
    del g, stories
    rendered = render_all(content, edits=None, status="draft", stages=stages)
    return Built(week, content, content_hash(content), rendered, stages.seconds, cold)


def subject_for(content: dict[str, Any], status: str) -> str:
    s = f"Weekly media briefing: {content['period']}"
    return s if status in ("approved", "sent") else f"DRAFT {s}"


def message_for(content: dict[str, Any], rendered: Rendered, *, status: str, sender: str, to: list[str],
                revision: int = 1) -> Any:
    h = content_hash(content)[:16]
    return build_message(subject=subject_for(content, status), sender=sender, to=to, text=rendered.text,
                         html=rendered.html, charts=rendered.charts, pdf=rendered.pdf,
                         pdf_name=f"briefing-{content['week']}.pdf",
                         message_id=f"<briefing-{content['week']}-r{revision}-{h}@earshot>")

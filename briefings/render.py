"""Render: the composed content as an HTML e-mail (CSS inlined, charts by Content-ID), a text part, a PDF.

- HTML: Jinja2 with autoescaping (every stranger's text is escaped, never executed), a table
  layout 640 px wide that narrows on phones, CSS inlined by ``css-inline`` (Outlook and Gmail drop
  ``<style>``; the phone media query stays in the head for the clients that read it). Charts are
  ``<img src="cid:...">`` with ``width`` and ``height``: Outlook shows neither SVG nor ``data:``.
- Text: the same content laid out as plain text (the ``multipart/alternative`` partner).
- PDF: WeasyPrint from the same HTML, with a URL fetcher that serves the charts from memory for
  ``cid:`` and refuses everything else (nothing remote is ever fetched while rendering).
- E-mail: ``multipart/mixed[alternative[plain, related[html, png...]], pdf]``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from briefings.charts import Chart

TEMPLATES = Path(__file__).resolve().parent / "templates"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
_inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


class RemoteRefused(ValueError):
    pass


def apply_edits(content: dict[str, Any], edits: dict[str, Any] | None) -> dict[str, Any]:
    """The content with an editor's changes: stories removed (by id) and reordered (ids first, in order)."""
    if not edits:
        return content
    c = copy.deepcopy(content)
    removed = set(edits.get("removed") or ())
    order = edits.get("order") or {}
    for t in c["topics"]:
        stories = [s for s in t["stories"] if s["id"] not in removed]
        want = order.get(t["id"]) or []
        rank = {sid: i for i, sid in enumerate(want)}
        stories.sort(key=lambda s: (rank.get(s["id"], len(rank)),))  # stable: the rest keep their order
        t["stories"] = stories
    return c


def _ctx(content, charts, edits, status, archive_url):
    edits = {"note": None, "key_messages": [], "removed": [], "order": {}, **(edits or {})}
    return {"c": content, "charts": {ch.filename[:-4]: ch for ch in charts}, "edits": edits,
            "status": status, "archive_url": archive_url}


def render_html(content: dict[str, Any], charts: list[Chart], *, edits: dict[str, Any] | None = None,
                status: str = "draft", archive_url: str | None = None, inline: bool = True) -> str:
    html = _env.get_template("briefing.html").render(**_ctx(apply_edits(content, edits), charts, edits, status,
                                                           archive_url))
    return _inliner.inline(html) if inline else html


def render_text(content: dict[str, Any], *, edits: dict[str, Any] | None = None, status: str = "draft") -> str:
    return _env.get_template("briefing.txt").render(**_ctx(apply_edits(content, edits), [], edits, status, None))


def local_fetcher(charts: list[Chart]):
    """A WeasyPrint URL fetcher serving ``cid:`` charts from memory and refusing everything else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    by_cid = {f"cid:{c.cid}": c.png for c in charts}

    class LocalOnly(URLFetcher):
        refused: list[str] = []

        def fetch(self, url, headers=None):
            if url in by_cid:
                return URLFetcherResponse(url, by_cid[url], {"Content-Type": "image/png"})
            self.refused.append(url)
            raise RemoteRefused(f"the briefing PDF fetches nothing remote (refused {url[:80]!r})")

    return LocalOnly(allowed_protocols=("cid",))


def render_pdf(html: str, charts: list[Chart]) -> bytes:
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=html, url_fetcher=local_fetcher(charts), base_url=None).write_pdf(
        pdf_identifier=b"earshot-briefing", uncompressed_pdf=False)


def build_message(*, subject: str, sender: str, to: list[str], text: str, html: str, charts: list[Chart],
                  pdf: bytes, pdf_name: str, message_id: str) -> EmailMessage:
    """``multipart/mixed[alternative[plain, related[html, png...]], pdf]``."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = formataddr(("Earshot briefing", sender))
    if to:
        msg["To"] = ", ".join(to)
    msg["Message-ID"] = message_id
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    for ch in charts:
        html_part.add_related(ch.png, maintype="image", subtype="png", cid=f"<{ch.cid}>", filename=ch.filename)
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    # boundaries from the message id, not random: the same briefing gives the same bytes
    tag = hashlib.sha256(message_id.encode()).hexdigest()[:24]
    for i, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(f"=_earshot_{tag}_{i}")
    return msg


def content_hash(content: dict[str, Any], edits: dict[str, Any] | None = None) -> str:
    blob = json.dumps({"content": content, "edits": edits or {}}, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()

"""Shared pieces of the briefing tests: a demo week imported once, hostile posts, an SMTP sink on loopback."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from monitor.items import Account, Batch, Post

WEEK = "2026-W47"  # the demo week: Monday 16 November 2026
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Waiting list & "quotes" javascript:alert(2)'


def hostile_batch(when: datetime, handle: str = "NHSEngland", n: int = 0) -> Batch:
    """A stakeholder's post on waiting times whose text and link are hostile."""
    acc = Account("x", f"hostile-acc-{handle}", handle=handle, name=f'{handle} <b>"Official"</b>', followers=250_000)
    post = Post("x", f"9{n:018d}", "original", acc.platform_id, f"{HOSTILE} #NHSWaitingList waiting list news",
                when, lang="en", url=f"https://x.com/{handle}/status/9{n:018d}", links=["javascript:alert(3)"],
                hashtags=["nhswaitinglist"], source="x-search")
    return Batch(source="x-search", posts=[post], accounts=[acc])


def smtp_sink():
    """An aiosmtpd server on a free loopback port collecting what it receives; (controller, messages)."""
    from aiosmtpd.controller import Controller

    received: list[dict] = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.content})
            return "250 OK"

    from monitor.harness.services import free_port

    ctl = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    ctl.start()
    return ctl, received


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "briefing.pdf"
    path.write_bytes(pdf)
    try:
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60)
    except FileNotFoundError:
        pytest.fail("pdftotext is needed to read the briefing PDF: apt-get install poppler-utils "
                    "(scripts/test installs it when run as root)")
    return " ".join(out.stdout.decode("utf-8", "replace").split())


def word(text: str, token: str) -> bool:
    """``token`` appears in ``text`` as a whole handle or name (case-insensitive)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(token)}(?![A-Za-z0-9_])", text, re.I) is not None


def html_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of ``html`` with its attributes, as a browser's tokenizer reads them."""
    from html.parser import HTMLParser

    found: list = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

        handle_startendtag = handle_starttag

    P(convert_charrefs=True).feed(html)
    return found

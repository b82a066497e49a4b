"""The dashboard's pages: their paths, who may open them, and the menu.

:data:`PAGES` lists every HTML page (path template, role needed, title). ``{...}`` parts are
filled by :func:`concrete_paths` from what the store holds, so a test (accessibility, XSS,
screenshots) can open every page with real ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from monitor import models as m
from monitor.config import Config
from monitor.store import Store


@dataclass(frozen=True)
class Page:
    path: str  # may hold {topic} or {account_id}
    role: str
    title: str
    menu: bool = True


PAGES: tuple[Page, ...] = (
    Page("/alerts", "viewer", "Live alerts"),
    Page("/alerts/{alert_id}", "viewer", "Alert", menu=False),
    Page("/topics", "viewer", "Topics"),
    Page("/topics/{topic}", "viewer", "Topic overview", menu=False),
    Page("/influencers", "viewer", "Influencers"),
    Page("/accounts/{account_id}", "viewer", "Account", menu=False),
    Page("/search", "viewer", "Search posts"),
    Page("/posts/{post_id}", "viewer", "Post", menu=False),
    Page("/status", "viewer", "Collection"),
    Page("/briefings", "viewer", "Briefings"),
    Page("/briefings/{briefing_id}", "viewer", "Briefing", menu=False),
    Page("/audit", "admin", "Audit log"),
    Page("/users", "admin", "Accounts"),
    Page("/tokens", "admin", "API tokens"),
)

#: Every page path (templates with ``{...}`` placeholders), and the sign-in page.
PAGE_PATHS: tuple[str, ...] = tuple(p.path for p in PAGES) + ("/login",)


def add_page(page: Page) -> None:
    """Register another package's page (the briefing's archive...) in the menu and :data:`PAGES`."""
    global PAGES, PAGE_PATHS
    if page.path not in {p.path for p in PAGES}:
        PAGES = PAGES + (page,)
        PAGE_PATHS = tuple(p.path for p in PAGES) + ("/login",)


def nav_items(user) -> list[tuple[str, str, str]]:
    """(href, label, role) of the menu entries ``user`` may open."""
    if user is None:
        return []
    return [(p.path, p.title, p.role) for p in PAGES if p.menu and user.can(p.role)]


def concrete_paths(store: Store, config: Config) -> list[str]:
    """Every page with its placeholders filled from the store (the first topic, the first post and its
    author, the first alert, the first briefing); a page whose placeholder has nothing to fill it is left out."""
    with store.engine.connect() as conn:
        post = conn.execute(select(m.posts.c.id, m.posts.c.account_id).order_by(m.posts.c.id).limit(1)).first()
        alert = conn.execute(select(m.alerts.c.id).order_by(m.alerts.c.id).limit(1)).scalar()
        briefing = conn.execute(select(m.briefings.c.id).order_by(m.briefings.c.id).limit(1)).scalar()
    values = {"topic": next(iter(config.topics), None), "account_id": post.account_id if post else None,
              "post_id": post.id if post else None, "alert_id": alert, "briefing_id": briefing}
    out = []
    for p in PAGES:
        path = p.path
        for key, value in values.items():
            if "{" + key + "}" in path:
                if value is None:
                    path = ""
                    break
                path = path.replace("{" + key + "}", str(value))
        if path:
            out.append(path)
    return out

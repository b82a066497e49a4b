"""One router per resource; each holds its page(s) and its JSON API (``/api/<resource>``).

To add a resource (the briefing's archive, say): write ``dashboard/routers/NAME.py`` with a
``router = APIRouter(tags=[...])``, templates extending ``base.html``, append it here, and add its
pages to :data:`dashboard.pages.PAGES` (or call :func:`dashboard.pages.add_page`).
"""

from dashboard.routers import admin, alerts, briefings, health, influencers, posts, session, tokens, topics

ROUTERS = [health.router, session.router, alerts.router, topics.router, posts.router, influencers.router, admin.router,
           tokens.router, briefings.router]

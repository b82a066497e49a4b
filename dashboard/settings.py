"""The dashboard's own settings (environment variables, documented in the README and ``.env.example``).

Where the store, Redis and the configuration are comes from :mod:`monitor.settings`; these
only say how the web application treats people: how long a session lasts, how many failed
sign-ins are allowed, whether cookies need HTTPS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# name -> (default, help). The dashboard's environment variables.
VARIABLES: dict[str, tuple[str, str]] = {
    "EARSHOT_SESSION_HOURS": ("12", "Dashboard sessions end this many hours after sign-in, however active."),
    "EARSHOT_SESSION_IDLE_MINUTES": ("120", "Dashboard sessions end after this many minutes without a request."),
    "EARSHOT_LOGIN_MAX_FAILURES": ("5", "Failed sign-ins allowed per name (and 4x that per address) in 15 minutes before sign-in is refused."),
    "EARSHOT_COOKIE_SECURE": ("auto", "Session cookie only over HTTPS: yes, no, or auto (yes unless the request came over plain HTTP)."),
}


def _get(name: str) -> str:
    return os.environ.get(name, VARIABLES[name][0])


@dataclass(frozen=True)
class WebSettings:
    session_hours: float = 12.0
    idle_minutes: float = 120.0
    login_max_failures: int = 5
    login_window_minutes: float = 15.0
    cookie_secure: str = "auto"  # yes | no | auto

    @classmethod
    def from_env(cls) -> "WebSettings":
        try:
            hours = float(_get("EARSHOT_SESSION_HOURS"))
            idle = float(_get("EARSHOT_SESSION_IDLE_MINUTES"))
            failures = int(_get("EARSHOT_LOGIN_MAX_FAILURES"))
        except ValueError as exc:
            raise ValueError(f"EARSHOT_SESSION_HOURS, EARSHOT_SESSION_IDLE_MINUTES and EARSHOT_LOGIN_MAX_FAILURES "
                             f"must be numbers: {exc}") from None
        secure = _get("EARSHOT_COOKIE_SECURE").strip().lower() or "auto"
        if secure not in ("yes", "no", "auto"):
            raise ValueError(f"EARSHOT_COOKIE_SECURE must be yes, no or auto, not {secure!r}")
        return cls(session_hours=hours, idle_minutes=idle, login_max_failures=max(1, failures), cookie_secure=secure)

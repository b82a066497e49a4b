"""Accounts, sessions and sign-in: argon2 password hashes, server-side sessions, throttled failures.

- **Accounts** (``users``): a name, an argon2id hash (argon2-cffi's defaults, rehashed on sign-in
  when they change) and a role. Roles are ordered: ``viewer`` reads, ``press`` also acknowledges
  and resolves alerts and marks posts, ``admin`` also manages accounts and reads the audit log.
- **Sessions** (``user_sessions``): the cookie holds 32 random bytes; the store keeps only their
  SHA-256, so a copy of the database signs nobody in. A session ends
  ``EARSHOT_SESSION_HOURS`` after sign-in, after ``EARSHOT_SESSION_IDLE_MINUTES`` idle, when
  revoked (sign-out, an admin, disabling the account), or when its account is disabled.
- **CSRF**: each session has its own random token; every state-changing request carries it as
  the ``csrf_token`` form field (so plain HTML forms work) or the ``X-CSRF-Token`` header.
- **API tokens** (``api_tokens``): for other tools using the JSON API, sent as
  ``Authorization: Bearer esk_...``. Each has a name and one role, and is created and revoked by an
  admin (the accounts page, or ``earshot tokens add|list|revoke``); the store keeps only its SHA-256
  and its first characters (to tell tokens apart), so the secret is shown once, when it is made. A
  token may expire; it needs no CSRF token (a browser never sends it by itself), acts as
  ``token:NAME`` in the audit log and in what it records, and cannot manage tokens or accounts.
- **Throttling**: failed sign-ins are recorded (``login_failures``); past
  ``EARSHOT_LOGIN_MAX_FAILURES`` for a name, or four times that from one address, within 15 minutes,
  sign-in is refused (even with the right password) until the window has passed. Failures are
  checked before the password, so the refusal costs no hashing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, func, select, update

from dashboard.settings import WebSettings
from monitor import models as m
from monitor.store import Store

ROLES = ("viewer", "press", "admin")
ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# a hash of nothing anyone knows: verified against when the name does not exist, so both cost the same
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(ValueError):
    """A request about accounts that cannot be done (bad name, short password, no such account)."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def normalise_name(name: str) -> str:
    n = (name or "").strip().lower()
    if not NAME_RE.match(n):
        raise AuthError("a name is 1-64 characters: lower-case letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    return n


def check_role(role: str) -> str:
    if role not in ROLE_RANK:
        raise AuthError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def has_role(role: str, needed: str) -> bool:
    """True when ``role`` is ``needed`` or above it (viewer < press < admin)."""
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


# ----------------------------------------------------------------------------- accounts
def add_user(store: Store, name: str, password: str, role: str, *, when: datetime | None = None) -> dict[str, Any]:
    """Create an account (raises AuthError if the name is taken)."""
    name, role = normalise_name(name), check_role(role)
    digest = hash_password(password)
    u = m.users
    with store.engine.begin() as conn:
        if conn.execute(select(u.c.id).where(u.c.name == name)).first():
            raise AuthError(f"there is already an account {name!r}")
        conn.execute(u.insert().values(name=name, password_hash=digest, role=role, created_at=when or now_utc()))
    return get_user(store, name)


def set_password(store: Store, name: str, password: str) -> None:
    """Change an account's password and end its sessions."""
    digest = hash_password(password)
    u = m.users
    with store.engine.begin() as conn:
        row = conn.execute(select(u.c.id).where(u.c.name == normalise_name(name))).first()
        if row is None:
            raise AuthError(f"no account {name!r}")
        conn.execute(update(u).where(u.c.id == row.id).values(password_hash=digest))
        _revoke_user_sessions(conn, row.id, now_utc())


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    u = m.users
    with store.engine.connect() as conn:
        row = conn.execute(select(u).where(u.c.name == name.strip().lower())).mappings().first()
    return _public(row) if row else None


def list_users(store: Store) -> list[dict[str, Any]]:
    u, s = m.users, m.user_sessions
    t = now_utc()
    live = (select(s.c.user_id, func.count().label("n"))
            .where(s.c.revoked_at.is_(None), s.c.expires_at > t).group_by(s.c.user_id).subquery())
    with store.engine.connect() as conn:
        rows = conn.execute(select(u, func.coalesce(live.c.n, 0).label("sessions"))
                            .select_from(u.outerjoin(live, live.c.user_id == u.c.id)).order_by(u.c.name)).mappings()
        return [{**_public(r), "sessions": int(r["sessions"])} for r in rows]


def disable_user(store: Store, name: str, *, when: datetime | None = None) -> dict[str, Any]:
    """Disable an account: it cannot sign in, and its sessions end now."""
    u = m.users
    when = when or now_utc()
    with store.engine.begin() as conn:
        row = conn.execute(select(u.c.id, u.c.disabled_at).where(u.c.name == normalise_name(name))).first()
        if row is None:
            raise AuthError(f"no account {name!r}")
        if row.disabled_at is None:
            conn.execute(update(u).where(u.c.id == row.id).values(disabled_at=when))
        _revoke_user_sessions(conn, row.id, when)
    return get_user(store, name)


def enable_user(store: Store, name: str) -> dict[str, Any]:
    u = m.users
    with store.engine.begin() as conn:
        res = conn.execute(update(u).where(u.c.name == normalise_name(name)).values(disabled_at=None))
        if not res.rowcount:
            raise AuthError(f"no account {name!r}")
    return get_user(store, name)


def _public(row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "role": row["role"], "created_at": row["created_at"],
            "disabled_at": row["disabled_at"], "last_login_at": row["last_login_at"]}


# ----------------------------------------------------------------------------- sign-in
class Throttled(Exception):
    """Too many failed sign-ins: refused until ``retry_after`` seconds have passed."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed sign-ins; try again in {retry_after // 60 + 1} minutes")
        self.retry_after = retry_after


def _throttle(conn, name: str, ip: str | None, settings: WebSettings, t: datetime) -> None:
    f = m.login_failures
    since = t - timedelta(minutes=settings.login_window_minutes)
    checks = [(f.c.name == name, settings.login_max_failures)]
    if ip:
        checks.append((f.c.ip == ip, settings.login_max_failures * 4))
    for cond, limit in checks:
        n, first = conn.execute(select(func.count(), func.min(f.c.at)).where(cond, f.c.at >= since)).one()
        if n >= limit:
            # refused until the oldest failure that counts leaves the window
            oldest = conn.execute(select(f.c.at).where(cond, f.c.at >= since).order_by(f.c.at.desc())
                                  .offset(limit - 1).limit(1)).scalar_one()
            wait = oldest + timedelta(minutes=settings.login_window_minutes) - t
            raise Throttled(max(1, int(wait.total_seconds()) + 1))


def authenticate(store: Store, name: str, password: str, *, ip: str | None = None,
                 settings: WebSettings | None = None, when: datetime | None = None) -> dict[str, Any] | None:
    """The account if ``name`` and ``password`` match an enabled one, else None (the failure is recorded).

    Raises :class:`Throttled` when too many sign-ins failed lately for this name or address.
    """
    settings = settings or WebSettings()
    t = when or now_utc()
    key = (name or "").strip().lower()[:64]
    u = m.users
    with store.engine.begin() as conn:
        _throttle(conn, key, ip, settings, t)
        row = conn.execute(select(u).where(u.c.name == key)).mappings().first()
        ok = False
        try:
            ok = _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row["disabled_at"] is not None:
            conn.execute(m.login_failures.insert().values(name=key, ip=ip, at=t))
            return None
        values: dict[str, Any] = {"last_login_at": t}
        if _hasher.check_needs_rehash(row["password_hash"]):
            values["password_hash"] = _hasher.hash(password)
        conn.execute(update(u).where(u.c.id == row["id"]).values(**values))
    return _public(row)


# ----------------------------------------------------------------------------- sessions
@dataclass(frozen=True)
class Session:
    id: int
    user_id: int
    name: str
    role: str
    csrf_token: str
    expires_at: datetime | None
    token: bool = False  # an API token, not a person's sign-in

    def can(self, role: str) -> bool:
        return has_role(self.role, role)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: dict[str, Any], *, ip: str | None = None, user_agent: str | None = None,
                  settings: WebSettings | None = None, when: datetime | None = None) -> tuple[str, Session]:
    """A new session for ``user``: (cookie token, session)."""
    settings = settings or WebSettings()
    t = when or now_utc()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = t + timedelta(hours=settings.session_hours)
    s = m.user_sessions
    with store.engine.begin() as conn:
        res = conn.execute(s.insert().values(token_hash=token_hash(token), user_id=user["id"], csrf_token=csrf,
                                             created_at=t, expires_at=expires, last_seen_at=t, ip=ip,
                                             user_agent=(user_agent or "")[:255] or None))
        sid = res.inserted_primary_key[0]
    return token, Session(sid, user["id"], user["name"], user["role"], csrf, expires)


def session_for(store: Store, token: str | None, *, settings: WebSettings | None = None,
                when: datetime | None = None, touch: bool = True) -> Session | None:
    """The live session of a cookie token, or None (unknown, expired, idle too long, revoked, account disabled)."""
    if not token or len(token) > 200:
        return None
    settings = settings or WebSettings()
    t = when or now_utc()
    s, u = m.user_sessions, m.users
    with store.engine.connect() as conn:
        row = conn.execute(
            select(s.c.id, s.c.user_id, s.c.csrf_token, s.c.expires_at, s.c.last_seen_at, s.c.revoked_at,
                   u.c.name, u.c.role, u.c.disabled_at)
            .select_from(s.join(u, u.c.id == s.c.user_id)).where(s.c.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    if t >= row.expires_at or t - row.last_seen_at >= timedelta(minutes=settings.idle_minutes):
        return None
    # the idle clock is written at most once a minute (not on every request)
    if touch and t - row.last_seen_at >= timedelta(minutes=1):
        with store.engine.begin() as conn:
            conn.execute(update(s).where(s.c.id == row.id).values(last_seen_at=t))
    return Session(row.id, row.user_id, row.name, row.role, row.csrf_token, row.expires_at)


def revoke_session(store: Store, session_id: int, *, when: datetime | None = None) -> None:
    s = m.user_sessions
    with store.engine.begin() as conn:
        conn.execute(update(s).where(s.c.id == session_id, s.c.revoked_at.is_(None))
                     .values(revoked_at=when or now_utc()))


def revoke_sessions(store: Store, name: str, *, when: datetime | None = None) -> int:
    """End every session of account ``name``; how many were live."""
    u = m.users
    with store.engine.begin() as conn:
        row = conn.execute(select(u.c.id).where(u.c.name == normalise_name(name))).first()
        if row is None:
            raise AuthError(f"no account {name!r}")
        return _revoke_user_sessions(conn, row.id, when or now_utc())


def _revoke_user_sessions(conn, user_id: int, when: datetime) -> int:
    s = m.user_sessions
    return conn.execute(update(s).where(and_(s.c.user_id == user_id, s.c.revoked_at.is_(None)))
                        .values(revoked_at=when)).rowcount


def csrf_ok(session: Session, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(session.csrf_token.encode(), str(supplied).encode())


# ----------------------------------------------------------------------------- API tokens
TOKEN_PREFIX = "esk_"
TOKEN_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,47}$")


def create_token(store: Store, name: str, role: str, *, created_by: str, days: int | None = None,
                 when: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """A new API token: (the secret, shown only now; its row). Raises AuthError on a bad or taken name."""
    n = (name or "").strip().lower()
    if not TOKEN_NAME_RE.match(n):
        raise AuthError("a token name is 1-48 characters: lower-case letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    role = check_role(role)
    if days is not None and not 1 <= days <= 3660:
        raise AuthError("a token lasts 1 to 3660 days (or until revoked)")
    t = when or now_utc()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    k = m.api_tokens
    with store.engine.begin() as conn:
        if conn.execute(select(k.c.id).where(k.c.name == n)).first():
            raise AuthError(f"there is already a token {n!r} (names are never reused: choose another)")
        conn.execute(k.insert().values(name=n, token_hash=token_hash(secret), prefix=secret[:10], role=role,
                                       created_by=created_by[:64], created_at=t,
                                       expires_at=t + timedelta(days=days) if days else None))
    return secret, get_token(store, n)


def _token_public(row, t: datetime) -> dict[str, Any]:
    d = {c: row[c] for c in ("id", "name", "prefix", "role", "created_by", "created_at", "expires_at",
                             "last_used_at", "revoked_at", "revoked_by")}
    d["state"] = ("revoked" if row["revoked_at"] is not None
                  else "expired" if row["expires_at"] is not None and row["expires_at"] <= t else "live")
    return d


def get_token(store: Store, name: str) -> dict[str, Any] | None:
    k = m.api_tokens
    with store.engine.connect() as conn:
        row = conn.execute(select(k).where(k.c.name == (name or "").strip().lower())).mappings().first()
    return _token_public(row, now_utc()) if row else None


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every token, newest first, with its state (live, expired, revoked); never the secret."""
    k = m.api_tokens
    t = now_utc()
    with store.engine.connect() as conn:
        return [_token_public(r, t) for r in conn.execute(select(k).order_by(k.c.id.desc())).mappings()]


def revoke_token(store: Store, name: str, *, by: str, when: datetime | None = None) -> dict[str, Any]:
    """Revoke a token by name: it stops working at once (revoking it again changes nothing)."""
    k = m.api_tokens
    n = (name or "").strip().lower()
    with store.engine.begin() as conn:
        row = conn.execute(select(k.c.id, k.c.revoked_at).where(k.c.name == n)).first()
        if row is None:
            raise AuthError(f"no token {name!r}")
        if row.revoked_at is None:
            conn.execute(update(k).where(k.c.id == row.id).values(revoked_at=when or now_utc(), revoked_by=by[:64]))
    return get_token(store, n)


def session_for_token(store: Store, secret: str | None, *, when: datetime | None = None) -> Session | None:
    """The caller an API token stands for (``token:NAME`` with the token's role), or None (unknown,
    expired, revoked). The time it was last used is written at most once a minute."""
    if not secret or len(secret) > 200 or not secret.startswith(TOKEN_PREFIX):
        return None
    t = when or now_utc()
    k = m.api_tokens
    with store.engine.connect() as conn:
        row = conn.execute(select(k.c.id, k.c.name, k.c.role, k.c.expires_at, k.c.revoked_at, k.c.last_used_at)
                           .where(k.c.token_hash == token_hash(secret))).first()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and t >= row.expires_at):
        return None
    if row.last_used_at is None or t - row.last_used_at >= timedelta(minutes=1):
        with store.engine.begin() as conn:
            conn.execute(update(k).where(k.c.id == row.id).values(last_used_at=t))
    return Session(-row.id, -row.id, f"token:{row.name}", row.role, "", row.expires_at, token=True)

"""``earshot serve`` and ``earshot users ...``, and serving for ``earshot demo`` and ``earshot run``.

They plug into the ``earshot`` command through the ``earshot.commands`` entry point, and
:func:`serve_hook` into ``earshot demo`` / ``earshot run`` through ``earshot.serve`` (see
:mod:`monitor.hooks`): the core never imports the dashboard.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from pathlib import Path
from typing import Callable

import click

from dashboard import audit, auth
from monitor.cliutil import _context, _fail

DEMO_USER = "demo"
DEMO_LOGIN_FILE = "demo-login.txt"


# ----------------------------------------------------------------------------- serving
def _server(ctx, host: str, port: int):
    import uvicorn

    from dashboard.app import create_app

    app = create_app(ctx.settings, store=ctx.store, config=ctx.config)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=True,
                            forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))
    return uvicorn.Server(config)


def demo_login(ctx) -> tuple[str, str]:
    """The demo's sign-in: the ``demo`` account (admin) with a password generated on first run and kept in
    ``$EARSHOT_DATA_DIR/demo-login.txt`` (readable by its owner only). Never a fixed password."""
    path = Path(ctx.settings.data_dir) / DEMO_LOGIN_FILE
    password = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    user = auth.get_user(ctx.store, DEMO_USER)
    if user is not None and password and auth.authenticate(ctx.store, DEMO_USER, password) is not None:
        return DEMO_USER, password
    password = secrets.token_urlsafe(12)
    if user is None:
        auth.add_user(ctx.store, DEMO_USER, password, "admin")
    else:
        auth.set_password(ctx.store, DEMO_USER, password)
        auth.enable_user(ctx.store, DEMO_USER)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    return DEMO_USER, password


def serve_hook(ctx, host: str = "127.0.0.1", port: int = 8000, *, demo: bool = False,
               background: bool = False) -> Callable[[], None] | None:
    """The ``earshot.serve`` hook: serve the dashboard over ``ctx``'s store.

    ``background``: in a thread, returning a function that stops it (``earshot run``); otherwise
    until Ctrl-C. ``demo``: print the demo sign-in (created on first run).
    """
    server = _server(ctx, host, port)
    url = f"http://{host if ':' not in host else '[' + host + ']'}:{port}"
    click.echo(f"\ndashboard: {url}")
    if demo:
        name, password = demo_login(ctx)
        click.echo(f"  sign in as {name} with password {password}")
        click.echo(f"  (kept in {Path(ctx.settings.data_dir) / DEMO_LOGIN_FILE}; `earshot users add NAME --role press` adds people)")
    if background:
        t = threading.Thread(target=server.run, name="earshot-dashboard", daemon=True)
        t.start()

        def stop() -> None:
            server.should_exit = True
            t.join(10)

        return stop
    click.echo("  Ctrl-C stops")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the dashboard (pages, JSON API, live alerts) over the configured store."""
    ctx = _context()
    try:
        serve_hook(ctx, host, port)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc}")


# ----------------------------------------------------------------------------- users
@click.group("users")
def users() -> None:
    """Dashboard accounts: add, list, disable, enable, password, revoke."""


def _read_password(confirm: bool = True) -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _account(fn, *args, **kwargs):
    """``fn(store, *args)`` over the command's store, an AuthError ending the command with its message:
    (context, result)."""
    ctx = _context()
    try:
        return ctx, fn(ctx.store, *args, **kwargs)
    except auth.AuthError as exc:
        _fail(str(exc))


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(auth.ROLES), required=True,
              help="viewer: read; press: also acknowledge, resolve and mark posts; admin: also accounts and audit.")
def users_add(name: str, role: str) -> None:
    """Add an account; the password is typed at a prompt (or read from standard input when it is not a terminal)."""
    ctx, user = _account(lambda store: auth.add_user(store, name, _read_password(), role))
    audit.record(ctx.store, "user-add", user="cli", target=user["name"], detail={"role": role})
    click.echo(f"added {user['name']} ({role})")


@users.command("list")
def users_list() -> None:
    """Accounts: role, state, last sign-in, live sessions."""
    _ctx, rows = _account(auth.list_users)
    if not rows:
        click.echo("no accounts; add one with `earshot users add NAME --role admin`")
        return
    for u in rows:
        state = f"disabled {u['disabled_at']:%Y-%m-%d %H:%M}" if u["disabled_at"] else "enabled"
        last = f"{u['last_login_at']:%Y-%m-%d %H:%M}" if u["last_login_at"] else "never"
        click.echo(f"{u['name']:<24} {u['role']:<7} {state:<26} last sign-in {last:<17} {u['sessions']} live sessions")


def _simple(command: str, doc: str, fn, action: str | None, done: str) -> None:
    """``earshot users COMMAND NAME``: ``fn(store, name)``, audited as ``action``, then ``done`` said."""

    @users.command(command, help=doc)
    @click.argument("name")
    def run(name: str) -> None:
        ctx, result = _account(fn, name)
        if action:
            audit.record(ctx.store, action, user="cli", target=name,
                         detail={"sessions": result} if isinstance(result, int) else None)
        click.echo(done.format(name=name, result=result))


_simple("disable", "Disable an account: it cannot sign in, and its sessions end now.", auth.disable_user,
        "user-disable", "disabled {name}; its sessions have ended")
_simple("enable", "Enable a disabled account again.", auth.enable_user, "user-enable", "enabled {name}")
_simple("password", "Set an account's password (prompt or standard input); its sessions end.",
        lambda store, name: auth.set_password(store, name, _read_password()), None,
        "password of {name} changed; its sessions have ended")
_simple("revoke", "End every session of an account (it can sign in again).", auth.revoke_sessions,
        "session-revoke", "ended {result} sessions of {name}")


# ----------------------------------------------------------------------------- API tokens
@click.group("tokens")
def tokens() -> None:
    """API tokens for other tools using the JSON API: add, list, revoke."""


@tokens.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(auth.ROLES), required=True, help="What the token may do (as an account's role).")
@click.option("--days", type=click.IntRange(1, 3660), help="Days it lasts (default: until revoked).")
def tokens_add(name: str, role: str, days: int | None) -> None:
    """Make a token; its secret is printed once (only its hash is kept)."""
    ctx, (secret, row) = _account(auth.create_token, name, role, created_by="cli", days=days)
    audit.record(ctx.store, "token-add", user="cli", target=row["name"], detail={"role": role, "days": days})
    click.echo(secret)
    click.echo(f"token {row['name']} ({role}"
               + (f", until {row['expires_at']:%Y-%m-%d %H:%M} UTC" if row["expires_at"] else ", until revoked")
               + "): send it as `Authorization: Bearer <token>`; it is not shown again", err=True)


@tokens.command("list")
def tokens_list() -> None:
    """Tokens: role, state, who made them, last use (never the secret)."""
    _ctx, rows = _account(auth.list_tokens)
    if not rows:
        click.echo("no API tokens; make one with `earshot tokens add NAME --role viewer`")
        return
    for t in rows:
        last = f"{t['last_used_at']:%Y-%m-%d %H:%M}" if t["last_used_at"] else "never"
        click.echo(f"{t['name']:<24} {t['prefix']}…  {t['role']:<7} {t['state']:<8} made by {t['created_by']:<16} "
                   f"last used {last}")


@tokens.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke a token: it stops working at once."""
    ctx, row = _account(auth.revoke_token, name, by="cli")
    audit.record(ctx.store, "token-revoke", user="cli", target=row["name"])
    click.echo(f"revoked token {row['name']}")

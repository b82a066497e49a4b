"""Settings: where to connect and secrets, from environment variables.

Every variable is documented in the README and in ``.env.example``; a test
fails when one is missing from either. What to watch lives in
``config/keywords.yaml`` instead (see :mod:`monitor.config`).
"""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "earshot"

# name -> (default, help). The single list of environment variables.
VARIABLES: dict[str, tuple[str, str]] = {
    "EARSHOT_DATA_DIR": ("", "Folder for the embedded SQLite store, demo data and exports. Empty: var/ in the project checkout when Earshot runs from one (scripts/setup), else the per-user data folder (~/.local/share/earshot on Linux). The same folder wherever a command runs; a relative path is taken from the working directory."),
    "EARSHOT_DATABASE_URL": ("", "SQLAlchemy URL of the store. Empty: sqlite:///$EARSHOT_DATA_DIR/earshot.db. Production: postgresql+psycopg://user@host/db."),
    "EARSHOT_BROKER_URL": ("", "Celery broker, e.g. redis://127.0.0.1:6379/0. Empty: tasks run in-process (embedded mode)."),
    "EARSHOT_RESULT_BACKEND": ("", "Celery result backend. Empty: the broker URL (or none in embedded mode)."),
    "EARSHOT_REDIS_URL": ("", "Redis for live alert push. Empty: the broker URL when it is redis://, else no push."),
    "EARSHOT_CONFIG": ("config/keywords.yaml", "What to watch: topics, stakeholders, alert tuning, sources."),
    "EARSHOT_BATCH_SIZE": ("500", "Posts per processing task."),
    "EARSHOT_X_BEARER_TOKEN": ("", "X API v2 app bearer token. Empty: X sources are disabled (and say so)."),
    "EARSHOT_X_API_BASE": ("https://api.twitter.com", "Base URL of the X API (for an egress proxy or a test server)."),
    "EARSHOT_HTTP_TIMEOUT": ("20", "Seconds before any outbound HTTP request gives up."),
    "EARSHOT_LOG_LEVEL": ("INFO", "Logging level: DEBUG, INFO, WARNING, ERROR."),
    "EARSHOT_SMTP_HOST": ("", "SMTP server for alert e-mails. Empty: alerts are not e-mailed (each e-mail not sent is recorded as skipped)."),
    "EARSHOT_SMTP_PORT": ("587", "SMTP port; 465 means TLS from the first byte (SMTPS)."),
    "EARSHOT_SMTP_USER": ("", "SMTP login name. Empty: no login."),
    "EARSHOT_SMTP_PASSWORD": ("", "SMTP password."),
    "EARSHOT_SMTP_FROM": ("earshot@localhost", "From address of alert e-mails."),
    "EARSHOT_SMTP_STARTTLS": ("auto", "STARTTLS on the SMTP connection: yes (required), no, or auto (when the server offers it)."),
    "EARSHOT_DB_RETRIES": ("8", "Tries of a batch while the database is away (full-jitter exponential backoff) before it is left waiting, kept in the store, for the sweeper to send again."),
    "EARSHOT_DB_RETRY_MAX": ("300", "Longest wait in seconds between two tries of a batch while the database is away."),
    "EARSHOT_RESEND_AFTER": ("300", "Seconds a kept batch may wait unstored before the sweeper sends it to the workers again (and `earshot status` says it is waiting too long)."),
    "EARSHOT_SWEEP_INTERVAL": ("60", "Seconds between two runs of the batch sweeper on the beat."),
    "EARSHOT_VISIBILITY_TIMEOUT": ("2100", "Seconds Redis waits for a worker to acknowledge a task before handing it to another (a worker killed outright); longer than the 30-minute task time limit, so a running task is never handed out twice."),
    "EARSHOT_WEBHOOKS": ("", "Comma-separated webhook URLs told of every alert, each optionally prefixed by its format: json: (default), teams: or slack:, e.g. teams:https://example.webhook.office.com/..."),
}


def _get(name: str) -> str:
    return os.environ.get(name, VARIABLES[name][0])


@dataclass
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    result_backend: str
    redis_url: str
    config_path: Path
    batch_size: int
    x_bearer_token: str
    x_api_base: str
    http_timeout: float
    log_level: str
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "earshot@localhost"
    smtp_starttls: str = "auto"  # yes | no | auto
    webhooks: list[str] = field(default_factory=list)  # "format:url" (json, teams, slack)
    db_retries: int = 8
    db_retry_max: float = 300.0
    resend_after: float = 300.0
    sweep_interval: float = 60.0
    visibility_timeout: float = 2100.0
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        """The settings without their secrets: the X token and SMTP password as ``***``, webhooks by host only,
        passwords in URLs masked."""
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("x_bearer_token", "smtp_password"):
                value = "***" if value else ""
            elif f.name == "webhooks":
                value = [_webhook_host(w) for w in value]
            elif f.name == "extra":
                value = sorted(value)
            elif isinstance(value, str) and "://" in value:
                value = hide_password(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        """Every secret these settings hold, as it could appear in a message: the X token, the SMTP
        password, each webhook URL (and its path, which is what servers and libraries quote), and the
        password of each connection URL."""
        out = [self.x_bearer_token, self.smtp_password]
        for spec in self.webhooks:
            for url in (spec, spec.partition(":")[2].strip()):
                if url.startswith(("http://", "https://")):
                    out.append(url)
                    parts = urlsplit(url)
                    out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        for url in (self.database_url, self.broker_url, self.result_backend, self.redis_url):
            try:
                out.append(urlsplit(url).password or "")
            except ValueError:
                pass
        # short strings ("/", a 3-letter password) would blank out ordinary words: at least 6 characters
        return sorted({s for s in out if s and len(s) >= 6}, key=len, reverse=True)

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: tasks run in-process."""
        return not self.broker_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def hide_password(url: str) -> str:
    """``url`` with the password of its user part (``user:secret@host``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if not parts.password:
            return url
        netloc = f"{parts.username or ''}:***@{parts.netloc.rsplit('@', 1)[1]}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return url


def _webhook_host(spec: str) -> str:
    """A webhook as it may be shown: its format and host, never its (secret) path."""
    head, _, rest = spec.partition(":")
    url = rest.strip() if head.lower() in ("json", "teams", "slack") and not rest.startswith("//") else spec
    try:
        host = urlsplit(url).hostname or "?"
    except ValueError:
        host = "?"
    return f"{head.lower()}:{host}" if url is not spec else host


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


_SECRETS: list[str] = []
_FACTORY = None


def redact_logs(settings: Settings) -> None:
    """From now on, no log record of this process holds one of ``settings``' secrets (its message, its
    arguments or its traceback): they are replaced by ``***`` as each record is made, whoever logs it
    (Earshot, Celery, requests, tweepy) and wherever it goes."""
    global _FACTORY
    _SECRETS[:] = settings.secrets()
    if _FACTORY is not None:
        return
    _FACTORY = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = _FACTORY(*args, **kwargs)
        if _SECRETS:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: leave it to the handler to report
                return record
            clean = redact(message, _SECRETS)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                record.exc_text = redact(text, _SECRETS)
        return record

    logging.setLogRecordFactory(factory)


def read_env_file(path: Path = Path(".env")) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (comments and blanks skipped; quotes stripped)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def default_data_dir() -> Path:
    """Where the store and demo data live when ``EARSHOT_DATA_DIR`` is not set.

    ``var/`` in the project checkout when Earshot runs from one (an editable install, as
    ``scripts/setup`` makes), so that every command finds the same store wherever it runs;
    otherwise (an installed package) the per-user data folder of the platform
    (``~/.local/share/earshot`` on Linux, by :mod:`platformdirs`).
    """
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "monitor").is_dir():
        return PROJECT_ROOT / "var"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def data_dir_origin() -> str:
    """Where the data folder comes from, in words (for ``earshot status``)."""
    if _get("EARSHOT_DATA_DIR").strip():
        return "EARSHOT_DATA_DIR"
    if default_data_dir() == PROJECT_ROOT / "var":
        return "default: the project checkout's var/"
    return "default: the per-user data folder"


def load_settings() -> Settings:
    """Read settings from the environment (call again after changing it).

    A ``.env`` file in the working directory fills in what the environment does not set.
    """
    for key, value in read_env_file().items():
        if key in VARIABLES and key not in os.environ:
            os.environ[key] = value
    given = _get("EARSHOT_DATA_DIR").strip()
    data_dir = Path(given).expanduser().resolve() if given else default_data_dir()
    database_url = _get("EARSHOT_DATABASE_URL") or f"sqlite:///{data_dir / 'earshot.db'}"
    broker = _get("EARSHOT_BROKER_URL")
    redis_url = _get("EARSHOT_REDIS_URL") or (broker if broker.startswith("redis") else "")
    config_path = Path(_get("EARSHOT_CONFIG"))
    if not config_path.is_absolute() and not config_path.exists() and (PROJECT_ROOT / config_path).exists():
        config_path = PROJECT_ROOT / config_path
    try:
        batch_size = int(_get("EARSHOT_BATCH_SIZE"))
        http_timeout = float(_get("EARSHOT_HTTP_TIMEOUT"))
    except ValueError as exc:
        raise ValueError(f"EARSHOT_BATCH_SIZE / EARSHOT_HTTP_TIMEOUT must be numbers: {exc}") from None
    try:
        smtp_port = int(_get("EARSHOT_SMTP_PORT"))
    except ValueError:
        raise ValueError(f"EARSHOT_SMTP_PORT must be a port number, not {_get('EARSHOT_SMTP_PORT')!r}") from None
    starttls = _get("EARSHOT_SMTP_STARTTLS").strip().lower() or "auto"
    if starttls not in ("yes", "no", "auto"):
        raise ValueError(f"EARSHOT_SMTP_STARTTLS must be yes, no or auto, not {starttls!r}")
    webhooks = [w.strip() for w in _get("EARSHOT_WEBHOOKS").split(",") if w.strip()]
    durable = {}
    for name, key, kind in (("EARSHOT_DB_RETRIES", "db_retries", int), ("EARSHOT_DB_RETRY_MAX", "db_retry_max", float),
                            ("EARSHOT_RESEND_AFTER", "resend_after", float),
                            ("EARSHOT_SWEEP_INTERVAL", "sweep_interval", float),
                            ("EARSHOT_VISIBILITY_TIMEOUT", "visibility_timeout", float)):
        try:
            durable[key] = kind(_get(name))
        except ValueError:
            raise ValueError(f"{name} must be a number, not {_get(name)!r}") from None
        if durable[key] < 0:
            raise ValueError(f"{name} must not be negative, not {_get(name)!r}")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker,
        result_backend=_get("EARSHOT_RESULT_BACKEND") or broker,
        redis_url=redis_url,
        config_path=config_path,
        batch_size=max(1, batch_size),
        x_bearer_token=_get("EARSHOT_X_BEARER_TOKEN"),
        x_api_base=_get("EARSHOT_X_API_BASE").rstrip("/"),
        http_timeout=http_timeout,
        log_level=_get("EARSHOT_LOG_LEVEL"),
        smtp_host=_get("EARSHOT_SMTP_HOST").strip(),
        smtp_port=smtp_port,
        smtp_user=_get("EARSHOT_SMTP_USER"),
        smtp_password=_get("EARSHOT_SMTP_PASSWORD"),
        smtp_from=_get("EARSHOT_SMTP_FROM").strip() or "earshot@localhost",
        smtp_starttls=starttls,
        webhooks=webhooks,
        **durable,
    )

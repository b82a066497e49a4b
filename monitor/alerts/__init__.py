"""The alert engine: know as soon as the evidence allows when a topic breaks from normal, and why
(within a minute for a sharp spike on a busy topic on the X stream; README, "Alerts", has the figures).

Modules
-------
:mod:`~monitor.alerts.detector`
    What is computed: the robust seasonal baseline, the volume, sentiment and
    silence tests, incidents (pure, no database) -- read its documentation first.
:mod:`~monitor.alerts.engine`
    Detection runs after each stored batch (``earshot.after_batch``) and every
    minute (``earshot.schedule``); emerging voices, stakeholder posts, source
    silence; alert rows, history, deliveries.
:mod:`~monitor.alerts.records`
    Reading alerts; acknowledging and resolving them (who, when, note).
:mod:`~monitor.alerts.notify`
    Dashboard push (Redis channel ``earshot:alerts`` and stream
    ``earshot:alerts:stream``), e-mail, webhooks (JSON, Microsoft Teams, Slack),
    retries and the retry sweep.
:mod:`~monitor.alerts.backtest`
    The same detector over any count series, a CSV file, or a topic's history.
:mod:`~monitor.alerts.cli`
    ``earshot alerts ...``.

Kinds of alert: ``volume`` and ``sentiment`` (one incident per topic),
``voice`` (an emerging voice), ``silence`` (a topic gone quiet), ``stakeholder``
(info), ``source`` (a collector gone quiet or failing). Severities: info,
warning, critical. States: open, acknowledged, resolved; ``closed_at`` marks the
figures back to normal.
"""

from monitor.alerts.backtest import BacktestAlert, BacktestResult, backtest_csv, backtest_series, backtest_topic
from monitor.alerts.detector import Params, TopicDetector
from monitor.alerts.engine import after_batch, detect
from monitor.alerts.records import AlertError, acknowledge, events, get_alert, list_alerts, resolve

__all__ = [
    "AlertError", "BacktestAlert", "BacktestResult", "Params", "TopicDetector", "acknowledge", "after_batch",
    "backtest_csv", "backtest_series", "backtest_topic", "detect", "events", "get_alert", "list_alerts", "resolve",
]

"""Celery beat entries of the alert engine (the ``earshot.schedule`` extension point).

- ``alerts detect`` every minute: detection up to the clock on every topic, so a
  topic or a source that goes silent is noticed even when no batch arrives, and
  the newest buckets are looked at as they fill;
- ``alerts deliver`` every minute: the retry sweep -- e-mails and webhooks whose
  retry time has come, held ones whose quiet hours are over, pushes that failed.

The tasks are thin wrappers in ``worker.py`` over :func:`monitor.alerts.engine.detect`
and :func:`monitor.alerts.notify.sweep`.
"""

from __future__ import annotations

from typing import Any

DETECT_TASK = "earshot.alerts_detect"
SWEEP_TASK = "earshot.alerts_sweep"
DELIVER_TASK = "earshot.alerts_deliver"
EVERY_SECONDS = 60.0


def beat_entries(settings: Any, config: Any) -> dict[str, dict[str, Any]]:
    """Beat entries: detection and the delivery sweep, each every minute (a missed run expires)."""
    return {
        "alerts detect": {"task": DETECT_TASK, "schedule": EVERY_SECONDS,
                          "options": {"queue": "process", "expires": EVERY_SECONDS - 5}},
        "alerts deliver": {"task": SWEEP_TASK, "schedule": EVERY_SECONDS,
                           "options": {"queue": "process", "expires": EVERY_SECONDS - 5}},
    }

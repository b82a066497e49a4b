"""A synthetic but realistic week of health-policy chatter, with its ground truth.

:func:`generate` writes X API v2 response pages (as twarc2 writes them) and RSS
feeds that Earshot imports through its ordinary importers, plus
``ground_truth.json`` naming what was planted (a crisis, central low-follower
voices, follower-rich accounts nobody amplifies, a bot ring) so tests and
benchmarks can score what the system finds. See :mod:`monitor.demo.generator`;
``python -m monitor.demo.generator OUT --size N --seed S`` runs it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KINDS", "OFF_TOPIC", "TOPICS", "ScenarioSpec", "generate", "iter_edges", "main"]


def __getattr__(name: str) -> Any:
    # Imported lazily so ``python -m monitor.demo.generator`` does not import the module twice.
    if name in __all__:
        from monitor.demo import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'monitor.demo' has no attribute {name!r}")

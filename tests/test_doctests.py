"""The ``>>>`` examples in the packages' docstrings run as tests: an example that stops being true fails here.

Every module of the packages whose source holds an example is collected (a new module with
examples is picked up without editing this file), imported and run by :mod:`doctest`.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "influence", "briefings", "dashboard")


def _modules_with_examples() -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or ">>>" not in path.read_text(encoding="utf-8"):
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


MODULES = _modules_with_examples()


def test_the_examples_are_found():
    # the modules the house-keeping issue counted: if these stop being collected, the test below runs nothing
    for name in ("monitor.query.facade", "monitor.sources.rss", "influence.centrality", "monitor.alerts.detector"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no example doctest can find (not in a docstring?)"
    runner = doctest.DocTestRunner()
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)

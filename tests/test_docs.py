"""Documentation keeps up with the code: settings, extension points and commands are all documented."""

from __future__ import annotations

import tomllib

import click

from monitor import hooks
from monitor.cli import _add_plugins, cli
from dashboard.settings import VARIABLES as WEB_VARIABLES
from monitor.settings import VARIABLES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented():
    sample = (ROOT / ".env.example").read_text()
    for name in [*VARIABLES, *WEB_VARIABLES]:
        assert f"`{name}`" in README, f"{name} is missing from the README's settings table"
        assert f"\n{name}=" in sample, f"{name} is missing from .env.example"


def test_every_extension_point_is_documented_and_loads():
    doc = hooks.__doc__ or ""
    for group in hooks.GROUPS:
        assert group in doc
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group, entries in declared.items():
        assert group in hooks.GROUPS, f"pyproject declares unknown extension point {group}"
        loaded = dict(hooks.load(group))
        assert set(entries) <= set(loaded), f"{group}: {set(entries) - set(loaded)} failed to load"


def test_every_command_is_in_the_readme():
    _add_plugins()

    def walk(group: click.Group, prefix: str):
        for name, cmd in group.commands.items():
            full = f"{prefix} {name}".strip()
            yield full
            if isinstance(cmd, click.Group):
                yield from walk(cmd, full)

    for full in walk(cli, ""):
        assert f"earshot {full}" in README, f"`earshot {full}` is not documented in the README"

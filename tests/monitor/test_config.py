"""config/keywords.yaml: the sample loads; every broken file says file, line and problem."""

from __future__ import annotations

import textwrap

import pytest

from monitor.config import ConfigError, load_config, parse_config, parse_duration
from tests.conftest import ROOT

GOOD = """
topics:
  waiting_times:
    label: Waiting times
    query: '"waiting list" OR A&E'
"""


def problems(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "cfg.yaml")
    assert str(info.value).startswith("cfg.yaml")
    return info.value.problems


def test_sample_config_is_valid_and_realistic():
    cfg = load_config(ROOT / "config" / "keywords.yaml")
    assert {"waiting_times", "social_care", "vaccination", "mental_health", "obesity", "junior_doctors",
            "smoking"} <= set(cfg.topics)
    assert len(cfg.feeds) >= 3 and all(f.interval >= 60 for f in cfg.feeds)
    assert cfg.x_search.enabled and cfg.x_search.interval == 300
    vac = cfg.topics["vaccination"]
    assert vac.languages == ["en"] and "ukhsa" in vac.stakeholders
    assert cfg.topics["waiting_times"].alerts["min_volume"] == 15  # per-topic override
    assert cfg.topics["smoking"].alerts["min_volume"] == 10  # default
    for t in cfg.topics.values():  # every sample query fits X's rule limit once split
        assert all(len(r) <= 512 for r in t.query.x_rules(512))


def test_minimal_config():
    cfg = parse_config(GOOD)
    assert list(cfg.topics) == ["waiting_times"] and cfg.feeds == []


def test_yaml_syntax_error_names_line():
    (line, msg), = problems("topics:\n  a:\n    label: [unclosed\n")
    assert line == 4 or line == 3
    assert "not valid YAML" in msg


def test_bad_query_names_line_and_column():
    (line, msg), = problems("""
        topics:
          vaccination:
            label: Vaccination
            query: 'vaccine AND "flu jab'
    """)
    assert line == 5
    assert "topic 'vaccination': query:" in msg and "column" in msg


def test_bad_query_in_block_scalar_names_its_line():
    (line, msg), = problems("""
        topics:
          vaccination:
            label: Vaccination
            query: |
              vaccine OR jab OR
              (booster AND
    """)
    assert line in (6, 7) and "query" in msg


def test_unknown_keys_missing_fields_and_bad_values_all_reported():
    probs = problems("""
        topics:
          vaccination:
            label: Vaccination
            querry: vaccine
          Bad-Id:
            label: x
            query: x
          social_care:
            query: '"social care"'
            stakeholders: "not a list"
            alerts:
              sensitivity: -1
              quiet_hours: "late"
              recipients: [not-an-email]
        sources:
          rss:
            - name: local
              url: file:///etc/passwd
            - name: fast
              url: https://example.org/feed
              interval: 5s
    """)
    text = "\n".join(f"{ln}: {m}" for ln, m in probs)
    assert "unknown key 'querry'" in text
    assert "needs a 'query'" in text
    assert "topic ids are lower case" in text
    assert "needs a 'label'" in text
    assert "stakeholders must be a list" in text
    assert "sensitivity must be" in text and "quiet_hours must be" in text and "recipients must be" in text
    assert "'url' must be an http(s) URL" in text
    assert "more often than once a minute" in text
    assert all(ln is not None for ln, _ in probs)


def test_duplicate_topic_and_empty_files():
    probs = problems(GOOD + """  waiting_times:
    label: Again
    query: again
""")
    assert any("defined twice" in m for _, m in probs)
    assert problems("") == [(None, "the file is empty: it needs at least a 'topics:' section")]
    assert any("no 'topics:'" in m for _, m in problems("sources: {}\n"))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172800), (300, 300)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")

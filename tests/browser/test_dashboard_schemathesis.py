"""Schemathesis against the dashboard's OpenAPI document: no generated request gets a server error.

Signed in as an admin (every route open to it) with the session's CSRF token, a few generated
requests per operation (bounded so the suite stays quick; derandomised, so a failure repeats),
each with a fresh session since an operation may end it. The event stream is left out: it
answers by never finishing (the authorisation and browser tests cover it).
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

EXAMPLES = 6  # generated requests per operation


def test_no_operation_answers_a_server_error(dashboard):
    doc = httpx.Client(cookies=dashboard.cookies("admin"), timeout=20).get(dashboard.url + "/openapi.json")
    assert doc.status_code == 200, doc.text
    schema = schemathesis.openapi.from_dict(doc.json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    failures: list[str] = []
    sent: list[str] = []
    tried = 0
    for op in operations:
        if op.path.endswith("/stream"):
            continue
        _generated_requests(dashboard, op, failures, sent)()
        tried += 1
    assert tried >= 5 and len(sent) >= 2 * tried, f"{len(sent)} requests for {tried} operations"
    if failures:
        pytest.fail(f"{len(failures)} server errors:\n" + "\n".join(dict.fromkeys(failures)))


def _generated_requests(dashboard, op, failures: list[str], sent: list[str]):
    """A Hypothesis test sending :data:`EXAMPLES` generated requests to ``op``, noting each server error."""
    from dashboard.web import SESSION_COOKIE

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy())
    def run(case):
        cookie, csrf = dashboard.session("admin")
        response = case.call(base_url=dashboard.url, headers={"X-CSRF-Token": csrf},
                             cookies={SESSION_COOKIE: cookie}, allow_redirects=False, timeout=20)
        sent.append(f"{op.method.upper()} {op.path}")
        if response.status_code >= 500:
            failures.append(f"{op.method.upper()} {op.path}: {response.status_code} for "
                            f"{case.as_curl_command()}\n  {response.text[:300]}")

    return run

"""X collection through real tweepy against a loopback X API v2 server built from recorded pages.

The server (:class:`monitor.harness.xapi.FakeX`, shared with ``bench/alerts.py``) serves
recent search over the tweets of the recorded ``brexit.jsonl`` page, the stream rules
endpoints with real rule state, and the filtered stream as chunked HTTP.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest

from monitor.harness.xapi import TOKEN, FakeX, LiveStream, serve
from monitor.sources.base import AuthError, SourceError
from monitor.sources.x import X_HOST, XRoutingAdapter, XSearchSource, XStreamSource

from tests.conftest import X_FIXTURES as FIXTURES  # noqa: E402  (shared/ beside the checkout)
QUERY = "#brexit -is:retweet"


def load_page(name: str) -> dict:
    page = json.loads((FIXTURES / name).read_text(encoding="utf-8").splitlines()[0])
    page.pop("__twarc", None)
    return page


def stream_lines() -> list[bytes]:
    out = []
    for line in (FIXTURES / "streaming_output_with_error.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # the recording's cut-off last line
        obj.pop("__twarc", None)
        out.append(json.dumps(obj).encode())
    return out


OPERATIONAL_DISCONNECT = json.dumps({"errors": [{
    "title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
    "detail": "This stream has been disconnected upstream for operational reasons.",
    "type": "https://api.twitter.com/2/problems/operational-disconnect"}]}).encode()


@pytest.fixture
def fake_x() -> Iterator[tuple[FakeX, str]]:
    x = FakeX(load_page("brexit.jsonl"), query=QUERY, token=TOKEN)
    with serve(x) as base:
        yield x, base


class Sleeps(list):
    """A ``sleep`` that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def search_source(base: str, sleeps: Sleeps, **kw: Any) -> XSearchSource:
    kw.setdefault("page_size", 10)
    return XSearchSource("x-search", kw.pop("token", TOKEN), {"brexit": [QUERY]}, api_base=base, sleep=sleeps, **kw)


def primary_ids(batches: list) -> list[str]:
    return [p.platform_id for b in batches for p in b.posts if not p.extra.get("referenced_only")]


# ----------------------------------------------------------------------------- search


def test_pagination_and_since_id_on_the_next_run(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    newest20 = {t["id"] for t in x.tweets[:20]}
    x.hidden = set(newest20)  # the first run sees the 80 older tweets
    sleeps = Sleeps()
    src = search_source(base, sleeps)
    first = list(src.collect(None))
    assert len(first) == 8  # 80 tweets, 10 a page
    ids = primary_ids(first)
    assert len(ids) == len(set(ids)) == 80 and set(ids) == {t["id"] for t in x.tweets[20:]}
    reqs = x.search_requests()
    assert [r.get("next_token") for r in reqs] == [None] + [f"tok-{i}" for i in range(10, 80, 10)]
    assert all("since_id" not in r and r["max_results"] == "10" for r in reqs)
    newest_seen = x.tweets[20]["id"]
    # intermediate cursors keep the position to resume from; the last one moves since_id
    assert first[0].cursor == {"since_id": {}, "resume": {QUERY: {"newest_id": newest_seen, "until_id": ids[9]}}}
    assert first[-1].cursor == {"since_id": {QUERY: newest_seen}}
    assert all(p.extra["x_topics"] == ["brexit"] for b in first for p in b.posts if not p.extra.get("referenced_only"))
    assert any(p.extra.get("referenced_only") for b in first for p in b.posts)  # originals of retweets/quotes too
    assert sleeps == [] and all(b.gaps == [] for b in first)

    x.hidden = set()  # 20 new tweets arrive
    x.requests.clear()
    second = list(src.collect(first[-1].cursor))
    assert [r.get("since_id") for r in x.search_requests()] == [newest_seen, newest_seen]
    assert set(primary_ids(second)) == newest20
    assert second[-1].cursor == {"since_id": {QUERY: x.tweets[0]["id"]}}


def test_a_crash_mid_query_resumes_without_losing_or_refetching(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    src = search_source(base, Sleeps())
    gen = src.collect(None)
    got = [next(gen), next(gen), next(gen)]
    gen.close()  # the worker died after three committed pages
    x.requests.clear()
    rest = list(src.collect(got[-1].cursor))
    assert x.search_requests()[0]["until_id"] == primary_ids(got)[-1]
    ids = primary_ids(got) + primary_ids(rest)
    assert len(ids) == len(set(ids)) == 100
    assert rest[-1].cursor == {"since_id": {QUERY: x.tweets[0]["id"]}}


def test_max_pages_moves_on_and_records_what_was_skipped(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    old_since = x.tweets[-1]["id"]
    batches = list(search_source(base, Sleeps(), max_pages=3).collect({"since_id": {QUERY: old_since}}))
    assert len(batches) == 3
    assert batches[-1].cursor == {"since_id": {QUERY: x.tweets[0]["id"]}}
    (gap,) = batches[-1].gaps
    assert gap.reason == "dropped" and old_since in gap.detail and gap.start < gap.end


def test_a_since_id_too_old_for_recent_search_starts_again_with_a_gap(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.script.append({"path": "/2/tweets/search/recent", "status": 400, "body": {
        "errors": [{"parameters": {"since_id": ["1300000000000000000"]},
                    "message": "Invalid 'since_id':'1300000000000000000'. 'since_id' must be a tweet id created "
                               "after 2021-09-15T16:37:30Z. Please use a 'since_id' that is larger than "
                               "1438174128296054784"}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"}})
    batches = list(search_source(base, Sleeps(), page_size=100).collect({"since_id": {QUERY: "1300000000000000000"}}))
    assert [r.get("since_id") for r in x.search_requests()] == ["1300000000000000000", None]
    assert len(primary_ids(batches)) == 100 and batches[-1].cursor == {"since_id": {QUERY: x.tweets[0]["id"]}}
    (gap,) = batches[0].gaps
    assert gap.reason == "dropped" and "older than recent search allows" in gap.detail
    assert gap.start.year == 2020  # the time encoded in the old since_id


def test_429_waits_until_reset_and_records_a_gap(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    reset = int(time.time()) + 7
    x.script.append({"path": "/2/tweets/search/recent", "status": 429, "headers": {"x-rate-limit-reset": str(reset)},
                     "body": {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}})
    sleeps = Sleeps()
    batches = list(search_source(base, sleeps, max_pages=1).collect(None))
    assert len(sleeps) == 1 and 6.0 <= sleeps[0] <= 9.0
    assert len(x.search_requests()) == 2
    (gap,) = batches[0].gaps
    assert gap.reason == "rate_limited" and gap.source == "x-search"
    assert abs((gap.end - gap.start).total_seconds() - sleeps[0]) < 1.0
    assert len(primary_ids(batches)) == 10


def test_503_twice_then_success(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    for _ in range(2):
        x.script.append({"path": "/2/tweets/search/recent", "status": 503,
                         "body": {"title": "Service Unavailable", "detail": "Service Unavailable"}})
    sleeps = Sleeps()
    batches = list(search_source(base, sleeps, max_pages=1).collect(None))
    assert sleeps == [2.0, 4.0]  # exponential backoff
    assert len(primary_ids(batches)) == 10
    (gap,) = batches[0].gaps
    assert gap.reason == "error" and "503" in gap.detail


def test_503_for_ever_gives_up_with_a_source_error(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    for _ in range(4):
        x.script.append({"path": "/2/tweets/search/recent", "status": 503, "body": {"title": "Service Unavailable"}})
    sleeps = Sleeps()
    with pytest.raises(SourceError, match=r"x-search: search '#brexit -is:retweet' failed 3 times in a row.*503"):
        list(search_source(base, sleeps, max_retries=2).collect(None))
    assert sleeps == [2.0, 4.0] and len(x.search_requests()) == 3


def test_401_is_an_auth_error_without_retry(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    sleeps = Sleeps()
    with pytest.raises(AuthError) as err:
        list(search_source(base, sleeps, token="wrong-token").collect(None))
    msg = str(err.value)
    assert msg.startswith("x-search: the X bearer token was refused (401 Unauthorized)")
    assert "EARSHOT_X_BEARER_TOKEN" in msg
    assert len(x.search_requests()) == 1 and sleeps == []
    with pytest.raises(AuthError, match="no X bearer token configured"):
        search_source(base, sleeps, token="")


def test_a_rejected_query_is_reported_and_the_others_go_on(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.script.append({"path": "/2/tweets/search/recent", "status": 400, "body": {
        "errors": [{"parameters": {"query": ["(nhs"]}, "message": "There were errors processing your request: "
                                                                  "Missing closing parenthesis (at position 4)"}],
        "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request"}})
    src = XSearchSource("x-search", TOKEN, {"nhs": ["(nhs"], "brexit": [QUERY]}, api_base=base, sleep=Sleeps(),
                        page_size=100)
    first, *rest = list(src.collect(None))
    assert first.posts == [] and "Missing closing parenthesis" in first.errors[0]
    assert "'(nhs'" in first.errors[0] and "topics nhs" in first.errors[0]
    assert len(primary_ids(rest)) == 100


def test_every_request_has_a_timeout(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    for _ in range(2):
        x.script.append({"path": "/2/tweets/search/recent", "delay": 1.5})
    sleeps = Sleeps()
    started = time.monotonic()
    with pytest.raises(SourceError, match="ReadTimeout"):
        list(search_source(base, sleeps, timeout=0.3, max_retries=1).collect(None))
    assert time.monotonic() - started < 1.4 and sleeps == [2.0]


def test_api_base_rewrite_only_when_it_differs() -> None:
    assert not XRoutingAdapter(X_HOST, 5).rewrite
    a = XRoutingAdapter("https://egress.example/x-api/", 5)
    assert a.rewrite_url(X_HOST + "/2/tweets/search/recent?query=a") == \
        "https://egress.example/x-api/2/tweets/search/recent?query=a"
    with pytest.raises(ValueError, match="api_base"):
        XRoutingAdapter("api.twitter.com", 5)


# ----------------------------------------------------------------------------- stream


def stream_source(base: str, sleeps: Sleeps, **kw: Any) -> XStreamSource:
    rules = kw.pop("rules", [("#brexit", "brexit")])
    return XStreamSource("x-stream", kw.pop("token", TOKEN), rules, api_base=base, sleep=sleeps,
                         batch_seconds=3600, **kw)


def test_rules_sync_adds_deletes_and_keeps(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.rules = {"1": {"id": "1", "value": "old rule", "tag": "gone"},
               "2": {"id": "2", "value": "nhs OR #nhs", "tag": "nhs"},
               "3": {"id": "3", "value": "nhs OR #nhs", "tag": "nhs"},  # a duplicate
               "4": {"id": "4", "value": "vaccine", "tag": "old-tag"}}
    wanted = [("nhs OR #nhs", "nhs"), ("vaccine", "vaccines"), ("obesity OR \"sugar tax\"", "obesity")]
    src = stream_source(base, Sleeps(), rules=wanted)
    assert src.sync_rules() == {"added": 2, "deleted": 3, "kept": 1}
    assert sorted((r["value"], r["tag"]) for r in x.rules.values()) == sorted(wanted)
    assert src.sync_rules() == {"added": 0, "deleted": 0, "kept": 3}

    bad = stream_source(base, Sleeps(), rules=wanted + [("(broken", "bad")])
    result = bad.sync_rules()
    assert result["added"] == 0 and result["kept"] == 3
    assert result["errors"] == ["X refused a stream rule: '(broken': Rule has unbalanced parentheses"]


def test_stream_reads_reconnects_and_records_the_disconnect(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    lines = stream_lines()
    assert len(lines) == 7
    x.streams.append([lines[0], lines[1], b"", lines[2], OPERATIONAL_DISCONNECT])  # b"" is a keep-alive
    x.streams.append([lines[3], b"", lines[4], lines[5], lines[6]])
    want = [json.loads(line)["data"]["id"] for line in lines]
    sleeps = Sleeps()
    src = stream_source(base, sleeps, batch_size=3)
    got = []
    for batch in src.collect(None):
        got.append(batch)
        if set(want) <= set(primary_ids(got)):
            break
    assert sorted(primary_ids(got)) == sorted(want)
    assert sum(1 for m, p, _ in x.requests if p == "/2/tweets/search/stream") == 2
    gaps = [g for b in got for g in b.gaps]
    assert [g.reason for g in gaps] == ["disconnect"]
    assert gaps[0].start <= gaps[0].end and "operational-disconnect" in gaps[0].detail
    errors = [e for b in got for e in b.errors]
    assert errors == ["stream disconnected (operational-disconnect, UpstreamOperationalDisconnect): "
                      "This stream has been disconnected upstream for operational reasons."]
    assert sleeps == [0.25]
    assert all(p.extra["matching_rules"][0]["id"] == "1377649934414049282"
               for b in got for p in b.posts if not p.extra.get("referenced_only"))
    assert all(b.cursor and "last_seen" in b.cursor for b in got)
    # the gap is reported in the batch yielded right after the reconnect, before the new tweets
    gap_batch = next(i for i, b in enumerate(got) if b.gaps)
    assert got[gap_batch].posts == [] and any(primary_ids(got[gap_batch + 1:]))


def test_stream_503_backs_off_then_connects(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.script.append({"path": "/2/tweets/search/stream", "status": 503, "body": {"title": "Service Unavailable"}})
    x.script.append({"path": "/2/tweets/search/stream", "status": 429, "body": {"title": "Too Many Requests"}})
    x.streams.append([stream_lines()[0]])
    sleeps = Sleeps()
    got = list(stream_source(base, sleeps, batch_size=1, max_batches=2).collect(None))
    assert sleeps == [5.0, 60.0]
    (gap,) = got[0].gaps
    assert gap.reason == "rate_limited" and gap.end >= gap.start and "429" in gap.detail
    assert primary_ids(got) == [json.loads(stream_lines()[0])["data"]["id"]]


def test_stream_that_closes_at_once_is_backed_off(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.streams.extend([[], [], [stream_lines()[0]]])  # two connections closed before even a keep-alive
    sleeps = Sleeps()
    got = list(stream_source(base, sleeps, batch_size=1, max_batches=3, max_retries=2).collect(None))
    assert sleeps == [5.0, 10.0]
    assert [g.reason for b in got for g in b.gaps] == ["disconnect", "disconnect"]
    assert len(primary_ids(got)) == 1


def test_stream_gives_up_after_max_retries(fake_x: tuple[FakeX, str]) -> None:
    _, base = fake_x  # no scripted streams: every connection answers 503
    sleeps = Sleeps()
    with pytest.raises(SourceError, match=r"x-stream: could not connect to the filtered stream \(3 attempts"):
        list(stream_source(base, sleeps, max_retries=2).collect(None))
    assert sleeps == [5.0, 10.0]


def test_stream_401_is_an_auth_error(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.streams.append([stream_lines()[0]])
    sleeps = Sleeps()
    src = stream_source(base, sleeps, token="wrong-token")
    with pytest.raises(AuthError, match=r"refused \(401 Unauthorized\).*EARSHOT_X_BEARER_TOKEN"):
        list(src.collect(None))
    with pytest.raises(AuthError, match="401"):
        src.sync_rules()
    assert sleeps == []


def test_stream_records_the_time_between_runs(fake_x: tuple[FakeX, str]) -> None:
    x, base = fake_x
    x.streams.append([stream_lines()[0]])
    got = list(stream_source(base, Sleeps(), batch_size=1, max_batches=2).collect(
        {"last_seen": "2024-01-01T00:00:00+00:00"}))
    (gap,) = got[0].gaps
    assert gap.reason == "disconnect" and gap.start.isoformat() == "2024-01-01T00:00:00+00:00" and gap.end > gap.start
    assert len(primary_ids(got)) == 1


def test_a_stream_batch_is_handed_on_when_old_enough_without_waiting_for_another_line(fake_x) -> None:
    """X sends a keep-alive only every 20 s: a spike's last posts on a quiet stream must not wait for it."""
    x, base = fake_x
    live = LiveStream(keepalive=60.0)  # no keep-alive during the test
    x.streams.append(live)
    for line in stream_lines()[:3]:
        live.put(line)
    src = XStreamSource("x-stream", TOKEN, [("#brexit", "brexit")], api_base=base, sleep=Sleeps(),
                        batch_size=100, batch_seconds=0.3, max_batches=1)
    started = time.monotonic()
    (batch,) = list(src.collect(None))
    waited = time.monotonic() - started
    assert len(primary_ids([batch])) == 3
    assert waited < 5.0  # the batch's age, not the next line (a minute away), handed it on
    live.close()

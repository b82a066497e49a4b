"""Reading recorded X API v2 responses (twarc2 output) into normalised items.

Expected values are computed here from the raw JSON of the fixtures, independently
of the parser, and a few tweets are checked by hand.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from monitor.items import ORIGINAL, QUOTE, REPLY, RETWEET, Batch
from monitor.sources.xv2 import (
    flat_tweet_to_batch,
    is_x_v2_line,
    iter_jsonl_batches,
    page_to_batch,
    tweets_to_batch,
)

from tests.conftest import X_FIXTURES as FIXTURES  # noqa: E402  (shared/ beside the checkout)
ALL_FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".json", ".jsonl"))
TWEET_PAGE_FILES = [
    "2sets.jsonl", "brexit.jsonl", "cashtags.jsonl", "cotweet.jsonl", "edited.jsonl", "edited_after.jsonl",
    "edited_before.jsonl", "entities_test.jsonl", "geo_tweets.jsonl", "kpop.jsonl", "many_urls.jsonl",
    "media_policy_violation_off.jsonl", "media_policy_violation_on.jsonl", "media_tweet.jsonl",
    "mentions_tweet.jsonl", "noflat.jsonl", "quoted_edit.jsonl", "streaming_output_with_error.jsonl",
    "two_tweets.jsonl", "verified_type.jsonl", "withheld.jsonl",
]

OPERATIONAL_DISCONNECT = {"errors": [{
    "title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
    "detail": "This stream has been disconnected upstream for operational reasons.",
    "type": "https://api.twitter.com/2/problems/operational-disconnect"}]}


# ----------------------------------------------------------------------------- helpers


def raw_lines(name: str) -> list[dict]:
    """The decodable JSON lines of a fixture (bad lines left out)."""
    out = []
    for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def read_all(name: str, batch_size: int = 100_000) -> Batch:
    batches = list(iter_jsonl_batches(FIXTURES / name, "test", batch_size=batch_size))
    assert len(batches) <= 1 or batch_size < 100_000
    merged = Batch(source="test")
    for b in batches:
        merged.posts += b.posts
        merged.accounts += b.accounts
        merged.errors += b.errors
        merged.gaps += b.gaps
    return merged


def primary(batch: Batch) -> dict:
    return {p.platform_id: p for p in batch.posts if not p.extra.get("referenced_only")}


def expected_kind(tweet: dict) -> str:
    types = {r["type"] for r in tweet.get("referenced_tweets") or []}
    if "retweeted" in types:
        return RETWEET
    if "quoted" in types:
        return QUOTE
    if "replied_to" in types or tweet.get("in_reply_to_user_id"):
        return REPLY
    return ORIGINAL


def page_tweets(page: dict) -> list[dict]:
    data = page.get("data")
    data = [data] if isinstance(data, dict) else data or []
    return [t for t in data if isinstance(t, dict) and "text" in t]


# ----------------------------------------------------------------------------- every file


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_fixture_reads_without_exception(path: Path) -> None:
    batches = list(iter_jsonl_batches(path, "replay", batch_size=50))
    for b in batches:
        assert b.source == "replay"
        for p in b.posts:
            assert p.platform == "x" and p.platform_id and p.author_id and p.created_at.tzinfo is not None
        assert len({p.platform_id for p in b.posts}) == len(b.posts)  # deduplicated within the batch
        assert len({a.platform_id for a in b.accounts}) == len(b.accounts)
        # every post's author and every account it points to is in the batch (partial or not)
        have = {a.platform_id for a in b.accounts}
        for p in b.posts:
            assert p.author_id in have
            assert set(p.mentions) <= have
            assert {r.author_id for r in p.references if r.author_id} <= have
        Batch.from_dict(json.loads(json.dumps(b.to_dict())))  # crosses Celery as JSON


def test_empty_file_yields_nothing() -> None:
    assert (FIXTURES / "empty.json").stat().st_size == 0
    assert list(iter_jsonl_batches(FIXTURES / "empty.json", "replay")) == []


# ----------------------------------------------------------------------------- per file, from the raw JSON


@pytest.mark.parametrize("name", TWEET_PAGE_FILES)
def test_posts_match_raw_json(name: str) -> None:
    batch = read_all(name)
    posts = primary(batch)
    all_posts = {p.platform_id: p for p in batch.posts}
    accounts = {a.platform_id: a for a in batch.accounts}
    raw_tweets: dict[str, dict] = {}
    for page in raw_lines(name):
        users = {u["id"]: u for u in (page.get("includes") or {}).get("users", [])}
        by_name = {u["username"].lower(): u for u in users.values()}
        for inc in (page.get("includes") or {}).get("tweets", []):
            assert inc["id"] in all_posts, f"included tweet {inc['id']} not emitted"
        for uid in users:
            assert uid in accounts and not accounts[uid].partial
        for t in page_tweets(page):
            raw_tweets.setdefault(t["id"], t)
            post = posts[t["id"]]
            assert post.kind == expected_kind(t)
            assert post.author_id == t["author_id"]
            assert post.text == t["text"]
            ents = t.get("entities") or {}
            assert post.hashtags == list(dict.fromkeys(h["tag"].lower() for h in ents.get("hashtags", [])))
            for m in ents.get("mentions", []):
                assert m["username"].lower() in post.mention_handles
                mid = m.get("id") or by_name.get(m["username"].lower(), {}).get("id")
                if mid:
                    assert mid in post.mentions and mid in accounts
                    assert accounts[mid].partial == (mid not in users)
            refs = {(r.kind, r.platform_id) for r in post.references}
            kinds = {"retweeted": RETWEET, "quoted": QUOTE, "replied_to": REPLY}
            assert refs >= {(kinds[r["type"]], r["id"]) for r in t.get("referenced_tweets") or []}
            if t.get("in_reply_to_user_id"):
                assert t["in_reply_to_user_id"] in {r.author_id for r in post.references if r.kind == REPLY}
            assert post.retweets == t["public_metrics"]["retweet_count"]
            assert post.likes == t["public_metrics"]["like_count"]
    assert set(posts) == set(raw_tweets)
    # counts per kind equal counts computed from the raw references
    raw_types = Counter(r["type"] for t in raw_tweets.values() for r in t.get("referenced_tweets") or [])
    kinds = Counter(p.kind for p in posts.values())
    assert kinds[RETWEET] == raw_types["retweeted"]
    assert kinds[QUOTE] == raw_types["quoted"]
    assert sum(1 for p in posts.values() if any(r.kind == REPLY and r.platform_id for r in p.references)) \
        == raw_types["replied_to"]


def test_readme_totals_across_all_files() -> None:
    """~1,100 distinct tweets: 633 retweets, 55 quotes, 199 replies, 821 with mentions."""
    raw: dict[str, dict] = {}
    for path in ALL_FILES:
        for obj in raw_lines(path.name):
            if "data" in obj:
                for t in page_tweets(obj):
                    raw.setdefault(t["id"], t)
            elif "text" in obj and "id" in obj:  # flat.jsonl
                raw.setdefault(obj["id"], obj)
    def has(t: dict, kind: str) -> bool:
        return any(r["type"] == kind for r in t.get("referenced_tweets") or [])
    want = {
        "tweets": len(raw),
        "retweets": sum(has(t, "retweeted") for t in raw.values()),
        "quotes": sum(has(t, "quoted") for t in raw.values()),
        "replies": sum(has(t, "replied_to") for t in raw.values()),
        "mentions": sum(bool((t.get("entities") or {}).get("mentions")) for t in raw.values()),
    }
    assert want == {"tweets": 1109, "retweets": 633, "quotes": 55, "replies": 199, "mentions": 821}

    got: dict = {}
    for path in ALL_FILES:
        for b in iter_jsonl_batches(path, "replay"):
            for p in b.posts:
                if not p.extra.get("referenced_only"):
                    got.setdefault(p.platform_id, p)
    def ref(p, kind: str) -> bool:
        return any(r.kind == kind and r.platform_id for r in p.references)
    assert {
        "tweets": len(got),
        "retweets": sum(ref(p, RETWEET) for p in got.values()),
        "quotes": sum(ref(p, QUOTE) for p in got.values()),
        "replies": sum(ref(p, REPLY) for p in got.values()),
        "mentions": sum(bool(p.mention_handles) for p in got.values()),
    } == want
    assert set(got) == set(raw)
    kinds = Counter(p.kind for p in got.values())
    assert kinds[RETWEET] == 633 and kinds[QUOTE] == 55
    # a reply that also quotes is a quote; an @-reply whose parent is unknown is still a reply
    assert kinds[REPLY] == sum(expected_kind(t) == REPLY for t in raw.values())


def test_flat_and_noflat_give_the_same_posts() -> None:
    flat, noflat = read_all("flat.jsonl"), read_all("noflat.jsonl")
    assert len(raw_lines("flat.jsonl")) == 100
    f_all = {p.platform_id: p for p in flat.posts}
    n_all = {p.platform_id: p for p in noflat.posts}
    assert set(primary(flat)) == set(primary(noflat)) == {t["id"] for t in raw_lines("noflat.jsonl")[0]["data"]}
    assert set(f_all) == set(n_all)
    for pid, n in n_all.items():
        f = f_all[pid]
        assert (f.kind, f.author_id, f.text, f.hashtags, f.links, f.mentions, f.mention_handles) == \
            (n.kind, n.author_id, n.text, n.hashtags, n.links, n.mentions, n.mention_handles), pid
        assert [(r.kind, r.platform_id, r.author_id) for r in f.references] == \
            [(r.kind, r.platform_id, r.author_id) for r in n.references], pid
    f_acc = {a.platform_id: a for a in flat.accounts}
    n_acc = {a.platform_id: a for a in noflat.accounts}
    assert {k for k, a in f_acc.items() if not a.partial} <= {k for k, a in n_acc.items() if not a.partial}
    for k, a in f_acc.items():
        if not a.partial:
            assert (a.handle, a.followers, a.verified) == (n_acc[k].handle, n_acc[k].followers, n_acc[k].verified)
    # every author is known by its user object in both
    for p in primary(flat).values():
        assert not f_acc[p.author_id].partial and not n_acc[p.author_id].partial


# ----------------------------------------------------------------------------- hand-checked tweets


@pytest.fixture(scope="module")
def brexit() -> Batch:
    return page_to_batch(raw_lines("brexit.jsonl")[0], "x-search")


def test_retweet_and_its_original_author(brexit: Batch) -> None:
    posts = {p.platform_id: p for p in brexit.posts}
    rt = posts["1440716856763977732"]
    assert rt.kind == RETWEET and rt.author_id == "4100727022"
    assert rt.text.startswith("RT @carolJhedges: . #BorisJohnson")
    assert [(r.kind, r.platform_id, r.author_id) for r in rt.references] == \
        [(RETWEET, "1440713161355583489", "711945679")]
    assert rt.mentions == ["711945679"] and rt.mention_handles == ["caroljhedges"]
    original = posts["1440713161355583489"]
    assert original.extra["referenced_only"] is True and original.author_id == "711945679"
    author = {a.platform_id: a for a in brexit.accounts}["711945679"]
    assert author.handle == "carolJhedges" and not author.partial
    assert rt.url == "https://x.com/jacquip537/status/1440716856763977732"


def test_quote_reply_and_original(brexit: Batch) -> None:
    posts = {p.platform_id: p for p in brexit.posts}
    quote = posts["1440715975020584960"]
    assert quote.kind == QUOTE
    assert [(r.kind, r.platform_id, r.author_id) for r in quote.references] == \
        [(QUOTE, "1440660748275834882", "963465855538524162")]
    assert quote.links == []  # the quoted tweet's URL is not a link of the quote
    assert quote.mentions == ["222748037"] and quote.hashtags == ["nicolasturgeon", "brexit"]
    reply = posts["1440716745577140229"]
    assert reply.kind == REPLY
    assert [(r.kind, r.platform_id, r.author_id) for r in reply.references] == \
        [(REPLY, "1440621713281093641", "1717521084")]
    assert reply.links == []  # its own photo link is media, not a link
    original = posts["1440716895355764743"]
    assert original.kind == ORIGINAL and original.references == []
    assert original.hashtags == ["peoplesvote", "brexit"]
    assert original.created_at == datetime(2021, 9, 22, 16, 37, 29, tzinfo=timezone.utc)


def test_reply_that_quotes_is_a_quote_with_both_references() -> None:
    b = page_to_batch(raw_lines("quoted_edit.jsonl")[0], "x")
    p = {p.platform_id: p for p in b.posts}["1576995594388000768"]
    assert p.kind == QUOTE
    assert [(r.kind, r.platform_id, r.author_id) for r in p.references] == [
        (QUOTE, "1576994746135764992", "337119125"), (REPLY, "1576994789110992896", "337119125")]
    assert p.links == []


def test_edited_pair() -> None:
    before = {p.platform_id: p for p in page_to_batch(raw_lines("edited_before.jsonl")[0], "x").posts}
    after = {p.platform_id: p for p in page_to_batch(raw_lines("edited_after.jsonl")[0], "x").posts}
    first, second = "1576994746135764992", "1576994789110992896"
    assert before[first].edit_of is None and not before[first].extra.get("referenced_only")
    assert after[second].edit_of == first and not after[second].extra.get("referenced_only")
    assert before[second].edit_of == first  # the later version, from includes
    assert after[second].text == "hey :) https://t.co/rnwEIoNuqd"
    assert after[second].links == []  # its own twitter.com/i/web/status link
    assert after[second].extra["edit_history"] == [first, second]


def test_withheld_and_links() -> None:
    b = page_to_batch(raw_lines("withheld.jsonl")[0], "x")
    p = b.posts[0]
    assert p.platform_id == "1388424788171841537"
    assert p.withheld == ["IN"]
    assert p.links == ["http://econ.st/3u72y2l"]
    withheld_raw = [t for page in raw_lines("withheld.jsonl") for t in page_tweets(page) if t.get("withheld")]
    got = {q.platform_id: q for q in read_all("withheld.jsonl").posts}
    assert withheld_raw and all(got[t["id"]].withheld == t["withheld"].get("country_codes", []) for t in withheld_raw)


def test_verified_type_and_user_url() -> None:
    b = page_to_batch(raw_lines("verified_type.jsonl")[0], "x")
    dev = {a.platform_id: a for a in b.accounts}["2244994945"]
    assert dev.verified is True and dev.handle == "TwitterDev"
    assert dev.url == "https://developer.twitter.com/en/community"
    assert dev.followers == 556601 and dev.following == 1961 and dev.posts_count == 4053
    assert b.posts[0].extra["impressions"] == 139075


def test_mention_without_id_is_resolved_from_includes() -> None:
    b = page_to_batch(raw_lines("two_tweets.jsonl")[0], "x")
    rt = {p.platform_id: p for p in b.posts}["1394735776701816833"]
    assert rt.mention_handles == ["bibaigna96"] and rt.mentions == ["1380086327023169540"]


def test_cashtags_geo_and_media() -> None:
    cash = page_to_batch(raw_lines("cashtags.jsonl")[0], "x").posts[0]
    raw = page_tweets(raw_lines("cashtags.jsonl")[0])[0]
    assert cash.extra["cashtags"] == list(dict.fromkeys(c["tag"].upper() for c in raw["entities"]["cashtags"]))
    assert "http://go.trade-ideas.com/SHHb" in cash.links
    assert not any("pic.twitter.com" in link or "/photo/" in link for link in cash.links)
    point_page, place_page = raw_lines("geo_tweets.jsonl")
    point = page_to_batch(point_page, "x").posts[0]
    assert point.extra["place"] == {"coordinates": point_page["data"][0]["geo"]["coordinates"]["coordinates"]}
    place = place_page["includes"]["places"][0]
    geo = primary(page_to_batch(place_page, "x"))[place_page["data"][0]["id"]]
    assert geo.extra["place"] == {"full_name": place["full_name"], "country_code": place["country_code"]}


def test_users_page_gives_accounts_only() -> None:
    page = raw_lines("users.jsonl")[0]
    b = page_to_batch(page, "x")
    assert b.posts == []
    assert {a.platform_id for a in b.accounts} == {u["id"] for u in page["data"]}
    assert all(not a.partial for a in b.accounts)
    assert "Not Found Error: Could not find user with ids: [93071130]." in b.notes  # a fact, not a problem
    assert b.errors == []


@pytest.mark.parametrize("name, what", [("counts.jsonl", "counts endpoint"), ("lists.jsonl", "lists endpoint"),
                                        ("tweets_compliance.jsonl", "compliance job result"),
                                        ("users_compliance.jsonl", "compliance job result")])
def test_non_tweet_endpoints_are_skipped_and_said_so(name: str, what: str) -> None:
    b = read_all(name)
    assert b.posts == [] and b.accounts == []
    assert b.errors and all(e.endswith(f"skipped: not tweets ({what})") for e in b.errors)


def test_api_errors_become_readable_and_missing_references_keep_their_reference() -> None:
    """X's partial errors (a tweet deleted or protected, an account suspended) are facts about the data: notes."""
    page = raw_lines("entities_test.jsonl")[0]
    b = page_to_batch(page, "x")
    assert len(b.notes) == len(page["errors"]) and b.errors == []
    assert "Not Found Error: Could not find tweet with referenced_tweets.id: [1574182774923296771]." in b.notes
    assert any(e.startswith("Authorization Error: Sorry, you are not authorized to see the Tweet") for e in b.notes)
    # the replied-to tweets X could not return: the reference stays, its author is in_reply_to_user_id
    missing = {e["resource_id"] for e in page["errors"] if e.get("parameter") == "referenced_tweets.id"}
    raw = {t["id"]: t for t in page["data"]}
    posts = primary(b)
    checked = 0
    for tid, t in raw.items():
        for r in t.get("referenced_tweets") or []:
            if r["id"] in missing:
                ref = next(x for x in posts[tid].references if x.platform_id == r["id"])
                assert (ref.kind, ref.author_id) == (REPLY, t["in_reply_to_user_id"])
                checked += 1
    assert checked == 6


def test_missing_referenced_tweets_keep_their_reference() -> None:
    page = raw_lines("withheld.jsonl")[4]  # X returned only 3 of the 77 referenced tweets, without errors
    included = {t["id"] for t in page["includes"]["tweets"]}
    assert "1400306190484082694" not in included
    posts = primary(page_to_batch(page, "x"))
    quote = posts["1404371642944344069"]  # quotes 1400306190484082694, not included
    assert [(r.kind, r.platform_id, r.author_id) for r in quote.references] == [(QUOTE, "1400306190484082694", None)]
    assert "1400306190484082694" not in {p.platform_id for p in page_to_batch(page, "x").posts}
    # a retweet's author is still known from the "RT @handle:" that X writes (when that user is known)
    resolved = 0
    for tid, rt in ((t["id"], t) for t in page["data"]):
        if any(r["type"] == "retweeted" and r["id"] not in included for r in rt.get("referenced_tweets") or []):
            first = next(m for m in rt["entities"]["mentions"] if m["start"] == 3)
            users = {u["username"].lower(): u["id"] for u in page["includes"]["users"]}
            want = first.get("id") or users.get(first["username"].lower())
            assert posts[tid].references[0].author_id == want
            resolved += bool(want)
    assert resolved >= 20


# ----------------------------------------------------------------------------- streaming output


def test_stream_file_with_cut_off_last_line() -> None:
    batches = list(iter_jsonl_batches(FIXTURES / "streaming_output_with_error.jsonl", "x-stream"))
    b = batches[0]
    lines = raw_lines("streaming_output_with_error.jsonl")
    assert {p.platform_id for p in b.posts if not p.extra.get("referenced_only")} == {o["data"]["id"] for o in lines}
    assert all(p.extra["matching_rules"] == [{"id": "1377649934414049282", "tag": None}]
               for p in b.posts if not p.extra.get("referenced_only"))
    assert any(e.startswith("streaming_output_with_error.jsonl line 8: not JSON") for e in b.errors)
    assert [g.reason for g in b.gaps] == ["disconnect"]
    assert b.gaps[0].start == datetime(2021, 4, 1, 15, 54, 26, tzinfo=timezone.utc)


def test_operational_disconnect_line_gives_a_gap(tmp_path: Path) -> None:
    b = page_to_batch(OPERATIONAL_DISCONNECT, "x-stream")
    assert b.posts == [] and [g.reason for g in b.gaps] == ["disconnect"] and b.gaps[0].end is None
    assert b.errors == ["stream disconnected (operational-disconnect, UpstreamOperationalDisconnect): "
                        "This stream has been disconnected upstream for operational reasons."]
    src = (FIXTURES / "streaming_output_with_error.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(src[:2] + [json.dumps(OPERATIONAL_DISCONNECT)] + src[2:4]) + "\n", encoding="utf-8")
    (batch,) = list(iter_jsonl_batches(path, "x-stream"))
    assert len(primary(batch)) == 4
    assert [g.reason for g in batch.gaps] == ["disconnect"]
    assert batch.gaps[0].start == datetime(2021, 4, 1, 15, 52, 42, tzinfo=timezone.utc)  # line 2's retrieval time
    assert any(e.startswith("stream.jsonl line 3: stream disconnected") for e in batch.errors)


# ----------------------------------------------------------------------------- robustness, sniffing, batching


def test_bad_lines_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    good = (FIXTURES / "two_tweets.jsonl").read_bytes().rstrip(b"\n")
    counts = (FIXTURES / "counts.jsonl").read_bytes().rstrip(b"\n")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good, b"not json at all", b"\xff\xfe{}", b"", b"[1, 2]", counts,
                                 b'{"hello": "world"}', good]) + b"\n")
    (b,) = list(iter_jsonl_batches(path, "replay"))
    assert {p.platform_id for p in b.posts} == {"1394735776701816833", "1391677057810288641"}
    assert b.errors[0].startswith("mixed.jsonl line 2: not JSON")
    assert b.errors[1].startswith("mixed.jsonl line 3: not UTF-8")
    assert any(e.startswith("mixed.jsonl line 5: not an X API v2 object") for e in b.errors)
    assert "mixed.jsonl line 6: skipped: not tweets (counts endpoint)" in b.errors
    assert any(e.startswith("mixed.jsonl line 7: not an X API v2 object (keys: hello)") for e in b.errors)
    assert b.cursor == {"file": str(path), "line": 8}


def test_one_indented_json_document_is_read_whole(tmp_path: Path) -> None:
    page = raw_lines("two_tweets.jsonl")[0]
    path = tmp_path / "response.json"
    path.write_text(json.dumps(page, indent=2), encoding="utf-8")
    (b,) = list(iter_jsonl_batches(path, "replay"))
    assert {p.platform_id for p in b.posts} == {"1394735776701816833", "1391677057810288641"} and b.errors == []
    path.write_text(json.dumps([page["data"][0]], indent=1), encoding="utf-8")  # an array of bare tweets
    (b,) = list(iter_jsonl_batches(path, "replay"))
    assert [p.platform_id for p in b.posts] == ["1394735776701816833"]
    assert is_x_v2_line({"data": [page["data"][0]]}) and is_x_v2_line({"data": raw_lines("users.jsonl")[0]["data"]})


def test_odd_structures_do_not_raise() -> None:
    page = copy.deepcopy(raw_lines("brexit.jsonl")[0])
    page["data"][0] = "a string"
    del page["data"][1]["author_id"]
    page["data"][2]["referenced_tweets"] = [None, {"type": "weird", "id": "1"}]
    page["includes"]["users"].append("nonsense")
    b = page_to_batch(page, "x")
    assert len(primary(b)) == 98
    assert any("not an object" in e for e in b.errors)
    assert any(e.startswith(f"tweet {page['data'][1]['id']}: no author_id") for e in b.errors)
    assert page_to_batch({"data": "??"}, "x").posts == []
    assert page_to_batch({"meta": {"result_count": 0}}, "x").to_dict()["posts"] == []


def test_batch_size_splits_a_file_between_lines() -> None:
    batches = list(iter_jsonl_batches(FIXTURES / "flat.jsonl", "replay", batch_size=30))
    assert len(batches) >= 4
    assert all(sum(not p.extra.get("referenced_only") for p in b.posts) <= 30 for b in batches)
    ids = [pid for b in batches for pid in primary(b)]
    assert len(ids) == len(set(ids)) == 100
    lines = [b.cursor["line"] for b in batches]
    assert lines == sorted(lines) and lines[-1] == 100


def test_note_tweet_text_and_entities_win() -> None:
    page = copy.deepcopy(raw_lines("brexit.jsonl")[0])
    tweet = next(t for t in page["data"] if t["id"] == "1440716895355764743")
    long_text = tweet["text"] + " " + "and more. " * 40 + "#NHS"
    tweet["note_tweet"] = {"text": long_text, "entities": {"hashtags": [{"start": 1, "end": 2, "tag": "NHS"}]}}
    b = tweets_to_batch([tweet], page["includes"], "x")
    p = primary(b)[tweet["id"]]
    assert p.text == long_text and p.hashtags == ["nhs"]


def test_flat_tweet_directly() -> None:
    line = raw_lines("flat.jsonl")[3]
    b = flat_tweet_to_batch(line, "x")
    p = primary(b)[line["id"]]
    assert p.kind == REPLY and p.author_id == line["author"]["id"]
    assert p.references[0].author_id == line["referenced_tweets"][0]["author_id"]
    assert {a.platform_id for a in b.accounts if not a.partial} >= {line["author"]["id"], line["in_reply_to_user"]["id"]}
    assert b.fetched_at is not None


def test_flattened_stream_tweet_keeps_its_matching_rules() -> None:
    line = json.loads((FIXTURES / "streaming_output_with_error.jsonl").read_text(encoding="utf-8").splitlines()[1])
    tweet = dict(line["data"], matching_rules=line["matching_rules"],
                 author=next(u for u in line["includes"]["users"] if u["id"] == line["data"]["author_id"]))
    p = primary(flat_tweet_to_batch(tweet, "x"))[tweet["id"]]
    assert p.extra["matching_rules"] == [{"id": "1377649934414049282", "tag": None}]


def test_is_x_v2_line() -> None:
    for name in TWEET_PAGE_FILES + ["users.jsonl", "counts.jsonl", "lists.jsonl", "flat.jsonl",
                                    "tweets_compliance.jsonl", "users_compliance.jsonl"]:
        assert is_x_v2_line(raw_lines(name)[0]), name
    assert is_x_v2_line(OPERATIONAL_DISCONNECT)
    no = [
        [], "text", {"hello": "world"},
        {"id": 1, "id_str": "1", "text": "v1.1 tweet", "user": {"screen_name": "x"}},  # X API v1.1
        {"id": "109", "content": "<p>hi</p>", "account": {"acct": "a"}},  # Mastodon status
        {"uri": "at://did:plc:x/app.bsky.feed.post/1", "record": {"text": "hi"}},  # Bluesky
        {"errors": [{"message": "bad"}]},
    ]
    assert not any(is_x_v2_line(o) for o in no)

"""A loopback X API v2 server for the tests and the benchmarks (the real tweepy client talks to it).

``FakeX`` holds the state: the tweets recent search serves (newest first, ``since_id``,
``until_id`` and ``next_token`` honoured, ``includes`` cut to what each page refers to), the
filtered stream's rules (``GET``/``POST /2/tweets/search/stream/rules`` with real rule state)
and the stream connections (``GET /2/tweets/search/stream``, chunked HTTP). Scripted answers
(429, 503, delays) are served before normal handling.

A stream connection is either a list of lines (sent at once, then the server closes it) or a
:class:`LiveStream`: lines are sent as they are put, a keep-alive (an empty line, as X sends
every 20 seconds) when nothing came for ``keepalive`` seconds, and :meth:`LiveStream.written`
tells when each stamped line left the server.

:func:`serve` runs a ``FakeX`` on a free loopback port and yields its base URL (for the
``api_base`` of :mod:`monitor.sources.x`).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

TOKEN = "good-token"


class LiveStream:
    """One filtered-stream connection fed while it is open.

    ``put(line, stamp=key)`` queues a line; the server writes it as one chunk and, when
    ``stamp`` is given, records ``time.perf_counter()`` just after the write in
    :attr:`written` under that key. ``close()`` ends the connection.
    """

    def __init__(self, keepalive: float = 20.0):
        self.keepalive = keepalive
        self.lines: queue.Queue[tuple[bytes, Any] | None] = queue.Queue()
        self.written: dict[Any, float] = {}

    def put(self, line: bytes, stamp: Any = None) -> None:
        self.lines.put((line, stamp))

    def close(self) -> None:
        self.lines.put(None)


class FakeX:
    """State and behaviour of the loopback X API.

    Parameters
    ----------
    page
        A recorded search page (``data``, ``includes``) whose tweets recent search serves;
        None: no tweets.
    query
        The query recent search expects (an assertion); None: any query, each tweet served
        when ``matches(query, tweet)`` says so.
    token
        The bearer token the server accepts.
    """

    def __init__(self, page: dict | None = None, *, query: str | None = None, token: str = TOKEN,
                 matches: Callable[[str, dict], bool] | None = None) -> None:
        page = page or {}
        self.tweets = sorted(page.get("data") or [], key=lambda t: int(t["id"]), reverse=True)
        includes = page.get("includes") or {}
        self.users = {u["id"]: u for u in includes.get("users") or []}
        self.included = {t["id"]: t for t in includes.get("tweets") or []}
        self.hidden: set[str] = set()  # tweet ids not yet "posted"
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.script: deque[dict[str, Any]] = deque()  # answered before normal handling
        self.rules: dict[str, dict[str, str]] = {}
        self.next_rule_id = 100
        self.streams: deque[list[bytes] | LiveStream] = deque()  # one entry per stream connection
        self.served: list[LiveStream] = []  # live streams handed to a connection
        self.lock = threading.Lock()
        self.query = query  # the query the server expects
        self.token = token
        self.matches = matches or (lambda _q, _t: True)

    def post(self, tweets: list[dict], users: list[dict] = ()) -> None:
        """Add tweets (and their authors) for recent search to find."""
        with self.lock:
            self.tweets = sorted(self.tweets + list(tweets), key=lambda t: int(t["id"]), reverse=True)
            self.users.update({u["id"]: u for u in users})

    def search_requests(self) -> list[dict[str, str]]:
        return [q for m, p, q in self.requests if p == "/2/tweets/search/recent"]

    # ---------------------------------------------------------------- search

    def search(self, q: dict[str, str]) -> dict:
        if self.query is not None:
            assert q["query"] == self.query
        for key in ("expansions", "tweet.fields", "user.fields"):
            assert key in q, f"search request without {key}"
        assert "referenced_tweets.id.author_id" in q["expansions"] and "note_tweet" in q["tweet.fields"]
        since, until = q.get("since_id"), q.get("until_id")
        size = int(q.get("max_results", 10))
        with self.lock:
            tweets = list(self.tweets)
        match = [t for t in tweets if t["id"] not in self.hidden and self.matches(q["query"], t)
                 and (since is None or int(t["id"]) > int(since)) and (until is None or int(t["id"]) < int(until))]
        offset = int(q["next_token"].removeprefix("tok-")) if "next_token" in q else 0
        page = match[offset:offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if offset + size < len(match):
            meta["next_token"] = f"tok-{offset + size}"
        refs = [self.included[r["id"]] for t in page for r in t.get("referenced_tweets", []) if r["id"] in self.included]
        user_ids = {t["author_id"] for t in page + refs}
        user_ids |= {m["id"] for t in page for m in t.get("entities", {}).get("mentions", []) if "id" in m}
        user_ids |= {t["in_reply_to_user_id"] for t in page if t.get("in_reply_to_user_id")}
        out: dict[str, Any] = {"meta": meta}
        if page:
            out["data"] = page
            out["includes"] = {"users": [self.users[u] for u in sorted(user_ids) if u in self.users],
                               "tweets": list({t["id"]: t for t in refs}.values())}
        return out

    # ---------------------------------------------------------------- rules

    def rules_get(self) -> dict:
        data = list(self.rules.values())
        return {"data": data, "meta": {"sent": "2024-01-01T00:00:00.000Z", "result_count": len(data)}} if data \
            else {"meta": {"sent": "2024-01-01T00:00:00.000Z", "result_count": 0}}

    def rules_post(self, body: dict) -> dict:
        if "delete" in body:
            ids = body["delete"]["ids"]
            gone = [i for i in ids if self.rules.pop(i, None)]
            return {"meta": {"sent": "now", "summary": {"deleted": len(gone), "not_deleted": len(ids) - len(gone)}}}
        created, errors = [], []
        for rule in body["add"]:
            if "(" in rule["value"] and ")" not in rule["value"]:
                errors.append({"value": rule["value"], "details": ["Rule has unbalanced parentheses"],
                               "title": "UnprocessableEntity", "type": "https://api.twitter.com/2/problems/invalid-rules"})
                continue
            self.next_rule_id += 1
            new = {"id": str(self.next_rule_id), "value": rule["value"], **({"tag": rule["tag"]} if "tag" in rule else {})}
            self.rules[new["id"]] = new
            created.append(new)
        out: dict[str, Any] = {"meta": {"sent": "now", "summary": {"created": len(created), "not_created": len(errors),
                                                                   "valid": len(created), "invalid": len(errors)}}}
        if created:
            out["data"] = created
        if errors:
            out["errors"] = errors
        return out


def make_handler(x: FakeX) -> type[BaseHTTPRequestHandler]:
    """The request handler class serving ``x``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            try:
                self.wfile.write(raw)
            except OSError:  # the client gave up waiting (the timeout test)
                self.close_connection = True

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = None
            if method == "POST":
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with x.lock:
                x.requests.append((method, parts.path, q))
                scripted = None
                if x.script and x.script[0].get("path", parts.path) == parts.path:
                    scripted = x.script.popleft()
            if self.headers.get("Authorization") != f"Bearer {x.token}":
                return self._send_json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                             "detail": "Unauthorized"})
            if scripted:
                if scripted.get("delay"):
                    time.sleep(scripted["delay"])
                if "status" in scripted:
                    return self._send_json(scripted["status"], scripted.get("body", {"title": "scripted"}),
                                           scripted.get("headers"))
            if parts.path == "/2/tweets/search/recent":
                return self._send_json(200, x.search(q))
            if parts.path == "/2/tweets/search/stream/rules":
                with x.lock:
                    answer = x.rules_get() if method == "GET" else x.rules_post(body)
                return self._send_json(200, answer)
            if parts.path == "/2/tweets/search/stream":
                return self._stream()
            self._send_json(404, {"title": "Not Found Error", "detail": parts.path})

        def _chunk(self, line: bytes) -> None:
            data = line + b"\r\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _stream(self) -> None:
            with x.lock:
                conn = x.streams.popleft() if x.streams else None
                if isinstance(conn, LiveStream):
                    x.served.append(conn)
            if conn is None:
                return self._send_json(503, {"title": "Service Unavailable", "detail": "no more scripted streams"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                if isinstance(conn, LiveStream):
                    while True:
                        try:
                            item = conn.lines.get(timeout=conn.keepalive)
                        except queue.Empty:
                            self._chunk(b"")  # a keep-alive
                            continue
                        if item is None:
                            break
                        line, stamp = item
                        self._chunk(line)
                        if stamp is not None:
                            conn.written[stamp] = time.perf_counter()
                else:
                    for line in conn:
                        self._chunk(line)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            self.close_connection = True

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


@contextmanager
def serve(x: FakeX) -> Iterator[str]:
    """Serve ``x`` on a free loopback port for the duration; yields ``http://127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(x))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        for conn in list(x.streams) + x.served:
            if isinstance(conn, LiveStream):
                conn.close()
        server.shutdown()
        server.server_close()

"""Tests of the topic query language (monitor.query): hand-written cases and properties."""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from monitor.query import Document, Query, QueryError, document, parse, tokenize

_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=_HEALTH)
FEWER = settings(max_examples=100, deadline=None, suppress_health_check=_HEALTH)  # many checks per example


def m(query: str, text: str = "", **kw) -> list[str] | None:
    return Query(query).match(document(text, **kw))


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, tokens", [
    ("The NHS's #A&E waits", ["the", "nhs", "a", "e", "waits"]),
    ("doctors' pay and the doctor's note", ["doctors", "pay", "and", "the", "doctor", "note"]),
    ("doctor’s note", ["doctor", "note"]),  # curly apostrophe
    ("O'Neill don't", ["o", "neill", "don", "t"]),
    ("Café CRÈME Straße naïve", ["cafe", "creme", "strasse", "naive"]),
    ("COVID-19 @NHS_England", ["covid", "19", "nhs", "england"]),
    ("हिन्दी समाचार", ["हिन्दी", "समाचार"]),  # vowel signs do not split words
    ("", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize("text", ["NHS", "the #NHS today", "NHS's plan", "(nhs)", "Nhs.", "@NHS said"])
def test_word_matches_on_word_boundaries(text):
    assert m("nhs", text) == ["nhs"]


@pytest.mark.parametrize("text", ["nhsx", "NHSEngland", "#NHSStrike", "see https://nhs.uk/a", "snhs"])
def test_word_does_not_match_inside_words_or_links(text):
    assert m("nhs", text) is None


@pytest.mark.parametrize("query, text, hit", [
    ("A&E", "queues at A&E tonight", True),
    ("A&E", "queues at a & e tonight", True),
    ("A&E", "A&amp;E", True),  # X sends HTML entities
    ("a&e", "A&E", True),
    ("A&E", "a big e", False),
    ('"A&E waits"', "long A&E waits", True),
    ("cafe", "Café culture", True),
    ("café", "CAFE culture", True),
    ("doctors", "the doctors' union", True),
    ("doctor", "the doctor's note", True),
    ("doctors", "the doctor's note", False),
    ("doctor's", "the doctor's note", True),
    ("covid-19", "COVID 19 cases", True),
    ("covid-19", "covid cases 19", False),
])
def test_query_words_and_text_words_are_cut_alike(query, text, hit):
    assert (m(query, text) is not None) is hit


def test_document_collects_tags_mentions_links():
    d = document("Hi @Bob_1 see https://www.England.NHS.uk/x?y=1, #NHS #Café www.bbc.co.uk/news. bob@mail.com #123",
                 hashtags=["#Waits", "strike"], mentions=["@ALICE"], links=["http://www.gov.uk/a"],
                 author="@Carol", lang="EN-gb")
    assert d.hashtags == {"nhs", "cafe", "waits", "strike"}
    assert d.mentions == {"bob_1", "alice"}
    assert set(d.domains) == {"england.nhs.uk", "bbc.co.uk", "gov.uk"}
    assert d.author == "carol" and d.lang == "en-gb"
    assert "england" not in d.token_set  # words of links are not words of the text
    assert isinstance(d, Document) and d.token_set == frozenset(d.tokens)


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, text, hit", [
    ("nurses AND pay", "nurses pay rise", True),
    ("nurses AND pay", "nurses strike", False),
    ("nurses pay", "pay for nurses", True),  # implicit AND
    ("nurses pay", "nurses strike", False),
    ("nurses OR pay", "pay", True),
    ("nurses OR pay", "strike", False),
    ("nhs NOT strike", "nhs news", True),
    ("nhs NOT strike", "nhs strike", False),
    ("nhs -strike", "nhs strike", False),
    ("nhs -(strike OR walkout)", "nhs walkout", False),
    ("nhs -(strike OR walkout)", "nhs news", True),
    ("a OR b AND c", "a", True),  # AND binds tighter than OR
    ("a OR b AND c", "b", False),
    ("a OR b AND c", "b c", True),
    ("(a OR b) AND c", "a", False),
    ("NOT a b", "b", True),  # NOT binds tighter than AND
    ("NOT a b", "a b", False),
    ("x NOT NOT y", "x y", True),
    ("x NOT NOT y", "x", False),
    ("nhs and strike", "nhs strike", False),  # lower-case and/or/not are words
    ("nhs and strike", "nhs and strike", True),
    ("nhs or strike", "nhs", False),
    ("not good", "not good", True),
])
def test_boolean_operators(query, text, hit):
    assert (m(query, text) is not None) is hit


@pytest.mark.parametrize("query, text, hit", [
    ('"waiting list"', "the waiting list grows", True),
    ('"waiting list"', "the list of those waiting", False),
    ('"waiting list"', "waiting on the list", False),
    ('"waiting list"', "waiting lists", False),
    ('"waiting list"', "waiting lists are not a list", False),
    ('“waiting list”', "Waiting-list", True),  # curly quotes; punctuation between words
    ('"waiting list*"', "waiting lists", True),
    ('"waiting list*"', "waiting room list", False),
    ('"nhs AND strike"', "nhs and strike", True),  # AND is a word inside quotes
    ("vaccin*", "Vaccination centre", True),
    ("vaccin*", "the vaccines", True),
    ("vaccin*", "vacuum", False),
    ("vaccin*", "antivaccine", False),
    ("#nhs", "the #NHS", True),
    ("#nhs", "the NHS", False),
    ("#NHS", "", True),  # given by the platform, below
    ("#vaccin*", "#VaccinesWork", True),
    ("#vaccin*", "vaccines work", False),
])
def test_phrases_wildcards_hashtags(query, text, hit):
    assert (m(query, text, hashtags=["nhs"] if text == "" else ()) is not None) is hit


@pytest.mark.parametrize("text, hit", [
    ("doctors went on strike", True),  # 2 words between
    ("strike by junior doctors", True),
    ("doctors strike", True),
    ("strike a b c doctors", False),  # 3 words between
    ("doctors", False),
])
def test_near(text, hit):
    assert (m("strike NEAR/2 doctors", text) is not None) is hit


def test_near_details():
    assert m("strike NEAR/0 doctors", "doctors strike") == ["strike", "doctors"]
    assert m("strike NEAR/0 doctors", "doctors will strike") is None
    assert m('"junior doctors" NEAR/1 strike', "strike by junior doctors") is not None
    assert m('"junior doctors" NEAR/1 strike', "junior doctors to strike") is not None
    assert m('"junior doctors" NEAR/1 strike', "junior doctors will vote to strike") is None
    q = '(nurse* OR midwife OR "health visitor") NEAR/3 (pay OR "pay rise")'
    assert m(q, "midwives and nurses get a pay rise") == ["nurse*", "pay", '"pay rise"']
    assert m(q, "pay the health visitor") == ['"health visitor"', "pay"]
    assert m(q, "nurses said that they were not happy about pay") is None
    assert m("nhs NEAR/3 nhs", "nhs") is None  # two different occurrences needed
    assert m("nhs NEAR/3 nhs", "nhs and nhs") == ["nhs"]
    assert m("x NOT (strike NEAR/2 doctors)", "x doctors strike") is None
    assert m("x NOT (strike NEAR/2 doctors)", "x doctors may one day strike") == ["x"]


@pytest.mark.parametrize("query, kw, hit", [
    ("@nhsengland", {"text": "thanks @NHSEngland"}, True),
    ("@NHSEngland", {"mentions": ["nhsengland"]}, True),
    ("@nhsengland", {"author": "NHSEngland"}, True),  # @ means mentioned OR written by
    ("@nhsengland", {"text": "nhsengland"}, False),
    ("author:nhsengland", {"author": "@NHSEngland"}, True),
    ("author:nhsengland", {"mentions": ["nhsengland"]}, False),
    ("from:nhsengland", {"author": "nhsengland"}, True),
    ("site:nhs.uk", {"links": ["https://www.england.nhs.uk/x"]}, True),
    ("site:nhs.uk", {"text": "read http://nhs.uk"}, True),
    ("site:www.nhs.uk", {"links": ["https://nhs.uk/"]}, True),
    ("site:nhs.uk", {"links": ["https://notnhs.uk/"]}, False),
    ("site:nhs.uk", {"links": ["https://nhs.uk.example.com/"]}, False),
    ('url:"nhs.uk"', {"links": ["https://nhs.uk/"]}, True),
    ("nhs lang:en", {"text": "nhs", "lang": "en"}, True),
    ("nhs lang:en", {"text": "nhs", "lang": "en-GB"}, True),
    ("nhs lang:en", {"text": "nhs", "lang": "fr"}, False),
    ("nhs lang:en", {"text": "nhs"}, False),
])
def test_accounts_and_fields(query, kw, hit):
    kw = dict(kw)
    assert (m(query, kw.pop("text", ""), **kw) is not None) is hit


def test_match_explains_with_terms_as_written():
    q = Query('("waiting list" OR #NHS OR backlog) AND hospital NOT strike')
    assert q.match(document("Hospital waiting list grows #nhs")) == ['"waiting list"', "#NHS", "hospital"]
    assert q.match(document("hospital backlog")) == ["backlog", "hospital"]
    assert q.match(document("hospital backlog strike")) is None
    assert q.terms() == ['"waiting list"', "#NHS", "backlog", "hospital"]
    assert Query("x NOT NOT y NOT z").terms() == ["x", "y"]
    assert parse("nhs") == Query("nhs") and parse("nhs").source == "nhs"
    assert pickle.loads(pickle.dumps(q)).match(document("hospital backlog")) == ["backlog", "hospital"]


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, position, words", [
    ("", 0, "empty"),
    ("nhs AND (strike OR \"junior doctors)", 19, "unclosed quote starting"),
    ("strike NEAR/ doctors", 7, "NEAR/ needs a number"),
    ("strike NEAR doctors", 7, "NEAR/ needs a number"),
    ("strike NEAR/x doctors", 7, "NEAR/ needs a number"),
    ("nhs NOT", 4, "NOT with nothing after it"),
    ("nhs NOT)", 4, "NOT with nothing after it"),
    ("nhs -", 4, "- with nothing after it"),
    ("nhs ()", 4, "empty parentheses"),
    ("NOT strike", 0, "a query cannot be only NOT terms"),
    ("NOT strike NOT walkout", 0, "a query cannot be only NOT terms"),
    ("nhs OR NOT strike", 7, "a query cannot be only NOT terms"),
    ("nhs OR (NOT a NOT b)", 8, "a query cannot be only NOT terms"),
    ("nhs OR va*", 7, "wildcard needs at least 3 letters before *"),
    ('nhs "waiting li*"', 13, "wildcard needs at least 3 letters before *"),
    ("#va*", 0, "wildcard needs at least 3 letters before *"),
    ("vac*ine", 3, "* only works at the end of a word"),
    ("nhs (strike OR walkout", 4, "unclosed parenthesis"),
    ("nhs) strike", 3, "unexpected )"),
    ("OR nhs", 0, "OR with nothing before it"),
    ("nhs OR", 4, "OR with nothing after it"),
    ("nhs AND OR strike", 4, "AND with nothing after it"),
    ("nhs (OR strike)", 5, "OR with nothing before it"),
    ("NEAR/3 nhs", 0, "NEAR/3 with nothing before it"),
    ("nhs NEAR/3", 4, "NEAR/3 with nothing after it"),
    ("nhs NEAR/3 #strike", 11, "works only with words"),
    ("nhs NEAR/3 (a b)", 12, "works only with words"),
    ("a NEAR/1 b NEAR/1 c", 11, "cannot follow another NEAR"),
    ("nhs country:uk", 4, "unknown field"),
    ("nhs site:", 4, "site: needs a value"),
    ("nhs site:nhs.uk/news", 4, "takes a domain"),
    ("nhs lang:english", 4, "language code"),
    ("nhs #", 4, "# needs a hashtag"),
    ("nhs @", 4, "@ needs an account"),
    ('nhs ""', 4, "empty quotes"),
    ("nhs &", 4, "no letters or digits"),
    ("(" * 150 + "nhs" + ")" * 150, 100, "nested too deeply"),
])
def test_errors_have_position_and_plain_message(query, position, words):
    with pytest.raises(QueryError) as info:
        Query(query)
    err = info.value
    assert isinstance(err, ValueError)
    assert words in str(err)
    assert err.position == position
    assert f"column {position + 1}" in str(err)


def test_error_column_counts_within_the_line():
    with pytest.raises(QueryError) as info:
        Query('nhs OR\n  ("waiting list" OR "backlog)')
    assert info.value.position == 28 and info.value.line == 2 and info.value.column == 22
    assert "column 22" in str(info.value)
    assert info.value.pointer() == '  ("waiting list" OR "backlog)\n' + " " * 21 + "^"


# ---------------------------------------------------------------------------------------------
# X translation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, x", [
    ("nhs", "nhs"),
    ("nurses pay", "nurses pay"),
    ("nurses OR midwives", "nurses OR midwives"),
    ("a OR b c", "a OR (b c)"),
    ("(a OR b) c", "(a OR b) c"),
    ('"waiting list" OR #NHS', '"waiting list" OR #NHS'),
    ("nhs NOT strike", "nhs -strike"),
    ("nhs NOT (strike OR walkout)", "nhs -(strike OR walkout)"),
    ("nhs NOT (strike walkout)", "nhs -(strike walkout)"),
    ("A&E waits", '"a e" waits'),
    ("@NHSEngland", "@nhsengland OR from:nhsengland"),
    ("nhs NOT @spam", "nhs -@spam"),
    ("nhs author:NHSEngland site:www.nhs.uk lang:en", 'nhs from:nhsengland url:"nhs.uk" lang:en'),
    ("strike NEAR/3 (doctors OR nurses)", "strike (doctors OR nurses)"),
    ("nhs NOT (strike NEAR/3 doctors)", "nhs"),
    ("vaccin*", "vaccin OR vaccins OR vaccine OR vaccines OR vaccined OR vaccining OR vacciner OR vacciners"
                " OR vaccination OR vaccinations OR vaccinate OR vaccinated OR vaccinating"),
])
def test_to_x(query, x):
    assert Query(query).to_x() == x


def test_x_rules_split_a_long_or():
    words = [f"word{i:03d}" for i in range(200)]
    q = Query(" OR ".join(words))
    rules = q.x_rules(100)
    assert len(rules) > 1 and all(len(r) <= 100 for r in rules)
    assert sorted(w for r in rules for w in r.split(" OR ")) == words
    assert q.x_rules() == [q.to_x()] if len(q.to_x()) <= 512 else len(q.x_rules()) > 1


def test_x_rules_distribute_an_and_and_keep_negations():
    words = " OR ".join(f"word{i:03d}" for i in range(100))
    q = Query(f"({words}) (hospital OR ward) NOT (strike OR walkout) lang:en")
    rules = q.x_rules(200)
    assert len(rules) > 1
    for r in rules:
        assert len(r) <= 200
        assert "(hospital OR ward)" in r and "-(strike OR walkout)" in r and "lang:en" in r
    assert {w for r in rules for w in re.findall(r"word\d+", r)} == {f"word{i:03d}" for i in range(100)}


def test_x_rules_cut_two_long_factors_into_few_rules():
    a = " OR ".join(f"alpha{i:02d}" for i in range(40))  # ~400 characters
    b = " OR ".join(f"beta{i:02d}" for i in range(60))  # ~560 characters
    q = Query(f"({a}) ({b}) NOT spam")
    rules = q.x_rules()
    assert all(len(r) <= 512 and r.endswith("-spam") for r in rules)
    assert len(rules) <= 9  # 3 x 3 chunks, not one rule per term
    pairs = {(x, y) for r in rules for x in re.findall(r"alpha\d+", r) for y in re.findall(r"beta\d+", r)}
    assert len(pairs) == 40 * 60  # every pairing is still covered


def test_x_rules_raise_when_a_part_cannot_be_split():
    excluded = " OR ".join(f"excluded{i}" for i in range(60))
    with pytest.raises(QueryError) as info:
        Query(f"nhs NOT ({excluded})").x_rules(200)
    assert "cannot be split" in str(info.value) and "column" in str(info.value)
    with pytest.raises(QueryError):
        Query('"' + " ".join(["word"] * 30) + '"').x_rules(100)


# ---------------------------------------------------------------------------------------------
# Properties: a reference model of the language
# ---------------------------------------------------------------------------------------------
# AST nodes: ("w", word, upper) ("x", stem) ("p", ((word, prefix), ...)) ("h", tag, prefix)
# ("m", handle) ("a", handle) ("near", n, alts, alts) ("and", children, explicit) ("or", children) ("not", child)

VOCAB = ["nhs", "nurse", "nurses", "pay", "strike", "waiting", "list", "lists", "cafe", "doctor"]
STEMS = ["nur", "wait", "list", "doc", "stri"]
HANDLES = ["bob", "alice", "nhs"]

def _strategies(wild: bool):
    """Leaf strategies of the reference AST, with or without wildcards."""
    words = st.builds(lambda w, up: ("w", w, up), st.sampled_from(VOCAB), st.booleans())
    part = st.tuples(st.sampled_from(VOCAB), st.just(False))
    if wild:
        part = st.one_of(part, st.tuples(st.sampled_from(STEMS), st.just(True)))
    phrase = st.builds(lambda ws: ("p", tuple(ws)), st.lists(part, min_size=1, max_size=3))
    text = st.one_of(words, words, phrase, *([st.builds(lambda s: ("x", s), st.sampled_from(STEMS))] if wild else []))
    alts = st.lists(text, min_size=1, max_size=3)
    near = st.builds(lambda n, a, b: ("near", n, tuple(a), tuple(b)), st.integers(0, 3), alts, alts)
    tag = st.builds(lambda t, p: ("h", t if not p else t[:4], p), st.sampled_from(VOCAB),
                    st.booleans() if wild else st.just(False))
    leaf = st.one_of(text, text, tag, st.builds(lambda h: ("m", h), st.sampled_from(HANDLES)),
                     st.builds(lambda h: ("a", h), st.sampled_from(HANDLES)), near)
    return near, phrase, leaf


near_, phrase_, leaf = _strategies(wild=True)
_, _, leaf_no_wildcards = _strategies(wild=False)


def _branches(kids):
    return st.one_of(
        st.builds(lambda cs, e: ("and", tuple(cs), e), st.lists(kids, min_size=2, max_size=3), st.booleans()),
        st.builds(lambda cs: ("or", tuple(cs)), st.lists(kids, min_size=2, max_size=3)),
        st.builds(lambda c: ("not", c), kids),
    )


ast_ = st.recursive(leaf, _branches, max_leaves=8)
small_ast = st.recursive(leaf, _branches, max_leaves=4)  # three of them make one query
ast_no_wildcards = st.recursive(leaf_no_wildcards, _branches, max_leaves=8)

PREC = {"or": 1, "and": 2, "not": 3, "near": 4}


def render(node, min_prec: int = 0) -> str:
    kind = node[0]
    if kind == "w":
        return node[1].upper() if node[2] else node[1]
    if kind == "x":
        return node[1] + "*"
    if kind == "p":
        return '"' + " ".join(w + ("*" if p else "") for w, p in node[1]) + '"'
    if kind == "h":
        return "#" + node[1] + ("*" if node[2] else "")
    if kind == "m":
        return "@" + node[1]
    if kind == "a":
        return "author:" + node[1]
    if kind == "near":
        side = lambda alts: render(alts[0]) if len(alts) == 1 else "(" + " OR ".join(map(render, alts)) + ")"
        s = f"{side(node[2])} NEAR/{node[1]} {side(node[3])}"
    elif kind == "and":
        s = (" AND " if node[2] else " ").join(render(c, 2) for c in node[1])
    elif kind == "or":
        s = " OR ".join(render(c, 1) for c in node[1])
    else:
        s = "NOT " + render(node[1], 3)
    return f"({s})" if PREC[kind] < min_prec else s


def ref_spans(atom, toks):
    kind = atom[0]
    if kind == "w":
        return [(i, i + 1) for i, t in enumerate(toks) if t == atom[1]]
    if kind == "x":
        return [(i, i + 1) for i, t in enumerate(toks) if t.startswith(atom[1])]
    ws = atom[1]
    return [(i, i + len(ws)) for i in range(len(toks) - len(ws) + 1)
            if all(toks[i + k].startswith(w) if p else toks[i + k] == w for k, (w, p) in enumerate(ws))]


def ref_eval(node, doc) -> bool:
    """Direct evaluation on ``doc`` = (tokens, hashtags, mentions, author)."""
    toks, tags, mentions, author = doc
    kind = node[0]
    if kind in ("w", "x", "p"):
        return bool(ref_spans(node, toks))
    if kind == "h":
        return any(t.startswith(node[1]) for t in tags) if node[2] else node[1] in tags
    if kind == "m":
        return node[1] in mentions or author == node[1]
    if kind == "a":
        return author == node[1]
    if kind == "near":
        a = [s for alt in node[2] for s in ref_spans(alt, toks)]
        b = [s for alt in node[3] for s in ref_spans(alt, toks)]
        return any(0 <= max(s2 - e1, s1 - e2) <= node[1] for s1, e1 in a for s2, e2 in b)
    if kind == "and":
        return all(ref_eval(c, doc) for c in node[1])
    if kind == "or":
        return any(ref_eval(c, doc) for c in node[1])
    return not ref_eval(node[1], doc)


EMPTY = ((), frozenset(), frozenset(), None)
SEPARATORS = [" ", ", ", " - ", "! ", " ... ", "\n"]
SPELLINGS = {"cafe": ["cafe", "Café", "CAFÉ"], "doctor": ["doctor", "Doctor's", "DOCTOR"], "nhs": ["NHS", "nhs", "NHS's"]}

def ast_words(*asts) -> list[str]:
    """Words that make posts interesting for these queries: theirs, near misses, words their stems match."""
    found: set[str] = set()

    def walk(node):
        kind = node[0]
        if kind in ("w", "h"):
            found.update((node[1], node[1] + "s"))
        elif kind == "x":
            found.update(v for v in VOCAB if v.startswith(node[1]))
        elif kind == "p":
            for w, p in node[1]:
                found.update([w, w + "s"] if not p else [v for v in VOCAB if v.startswith(w)])
        elif kind == "near":
            for c in (*node[2], *node[3]):
                walk(c)
        elif kind in ("and", "or"):
            for c in node[1]:
                walk(c)
        elif kind == "not":
            walk(node[1])
    for a in asts:
        walk(a)
    return sorted(found) or VOCAB


@st.composite
def docs(draw, vocab=tuple(VOCAB)):
    """A post as a reference tuple and as text (varied case, accents, possessives, separators)."""
    vocab = sorted(vocab)
    # plain integers are the cheapest thing for hypothesis to draw and shrink
    codes = draw(st.lists(st.integers(0, 2**16), max_size=8))
    author = draw(st.sampled_from([None, "bob", "alice"]))
    parts, pairs = [], []
    for code in codes:
        kind = "wwhm"[code % 4]
        w = HANDLES[code // 4 % len(HANDLES)] if kind == "m" else vocab[code // 4 % len(vocab)]
        variants = SPELLINGS.get(w, [w, w.upper(), w.title()])
        sep = SEPARATORS[code // 64 % len(SEPARATORS)]
        parts.append({"w": "", "h": "#", "m": "@"}[kind] + variants[code // 512 % 3] + sep)
        pairs.append((kind, w))
    ref = (tuple(w for _, w in pairs), frozenset(w for k, w in pairs if k == "h"),
           frozenset(w for k, w in pairs if k == "m"), author)
    return ref, document("".join(parts), author=author)


@PROPS
@given(ast_, st.data())
def test_parse_of_rendered_ast_matches_like_the_ast(ast, data):
    documents = data.draw(st.lists(st.one_of(docs(), docs(ast_words(ast))), min_size=1, max_size=5))
    text = render(ast)
    if ref_eval(ast, EMPTY):  # matches a post with nothing in it: a NOT-only query
        with pytest.raises(QueryError, match="only NOT"):
            Query(text)
        return
    q = Query(text)
    terms = q.terms()
    for ref, doc in documents:
        got = q.match(doc)
        assert (got is not None) == ref_eval(ast, ref), (text, ref)
        if got is not None:
            assert got and set(got) <= set(terms)


@FEWER
@given(st.one_of(near_, phrase_), st.data())
def test_near_and_phrases_like_the_reference(ast, data):
    q = Query(render(ast))
    for ref, doc in data.draw(st.lists(docs(ast_words(ast)), min_size=1, max_size=5)):
        assert (q.match(doc) is not None) == ref_eval(ast, ref), (render(ast), ref)



@FEWER
@given(small_ast, small_ast, small_ast, st.data())
def test_matcher_index_only_skips_topics_that_would_not_match(a, b, c, data):
    """The matcher tests a post only against topics whose needs it meets: same answers as testing all."""
    from monitor.config import Topic
    from monitor.topics import Matcher

    queries = {}
    for name, ast in zip("abc", (a, b, c)):
        if not ref_eval(ast, EMPTY):  # NOT-only queries are rejected
            queries[name] = Query(render(ast))
    assume(queries)
    matcher = Matcher([Topic(id=k, label=k, query=q) for k, q in queries.items()])
    documents = data.draw(st.lists(st.one_of(docs(), docs(ast_words(a, b, c))), min_size=1, max_size=6))
    for ref, doc in documents:
        every = {k: got for k, q in queries.items() if (got := q.match(doc)) is not None}
        assert matcher.match_document(doc) == every, ({k: q.source for k, q in queries.items()}, ref)


def test_needs_are_what_a_post_must_hold():
    q = Query('("waiting list*" OR #nhs OR @bob) AND NOT strike')
    assert q.needs.words == {"waiting"} and q.needs.tags == {"nhs"} and q.needs.handles == {"bob"}
    near = Query("A&E NEAR/5 (delays OR queue*)").needs  # the side without one-letter words
    assert near.words == {"delays"} and near.stems == {"queue"}
    assert Query("nhs pay").needs.words in ({"nhs"}, {"pay"})  # one side of an AND is enough
    assert Query("site:nhs.uk").needs is None  # nothing indexable: tested against every post
    assert Query("nhs OR lang:en").needs is None


def _same(q1: str, q2: str, documents) -> None:
    try:
        a = Query(q1)
    except QueryError:
        with pytest.raises(QueryError):
            Query(q2)
        return
    b = Query(q2)
    for _, doc in documents:
        assert (a.match(doc) is None) == (b.match(doc) is None), (q1, q2, doc)


@FEWER
@given(small_ast, small_ast, small_ast, st.sampled_from(VOCAB), st.data())
def test_equivalences(a, b, c, x, data):
    documents = data.draw(st.lists(docs(ast_words(a, b, c) + [x]), min_size=1, max_size=5))
    A, B, C = render(a), render(b), render(c)
    _same(f"{x} NOT (({A}) OR ({B}))", f"{x} NOT ({A}) NOT ({B})", documents)  # De Morgan
    _same(f"{x} NOT (({A}) ({B}))", f"{x} (NOT ({A}) OR NOT ({B}))", documents)  # De Morgan
    _same(f"({A}) OR ({B})", f"({B}) OR ({A})", documents)
    _same(f"({A}) AND ({B})", f"({B}) ({A})", documents)
    _same(f"({A}) (({B}) OR ({C}))", f"(({A}) ({B})) OR (({A}) ({C}))", documents)
    _same(f"{x} NOT NOT ({A})", f"{x} ({A})", documents)
    _same(f"({A}) OR ({A})", A, documents)


# --- a small evaluator of X API v2 query syntax, to check x_rules independently ---------------

_X_TOKEN = re.compile(r'\s*(?:(\()|(\))|(-)(?=\S)|("[^"]*")|([a-z]+:"[^"]*")|([^\s()"]+))')


def x_eval(rule: str, doc: Document) -> bool:
    """Evaluate an X rule: AND by juxtaposition binds tighter than OR; '-' negates; @ is mentions only."""
    toks, i = [], 0
    while i < len(rule):
        mt = _X_TOKEN.match(rule, i)
        assert mt and mt.end() > i, f"cannot read X rule at {i}: {rule!r}"
        toks.append(next(g for g in mt.groups() if g is not None))
        i = mt.end()
        while i < len(rule) and rule[i] == " ":
            i += 1
    pos = 0

    def atom_value(t: str) -> bool:
        def phrase(words: list[str]) -> bool:
            n = len(words)
            return n > 0 and any(list(doc.tokens[k:k + n]) == words for k in range(len(doc.tokens) - n + 1))
        if t.startswith('"'):
            return phrase(tokenize(t[1:-1]))
        if t.startswith("#"):
            return tokenize(t[1:]) and t[1:].lower() in doc.hashtags
        if t.startswith("@"):
            return t[1:].lower() in doc.mentions
        if t.startswith("from:"):
            return doc.author == t[5:].lower()
        if t.startswith("url:"):
            dom = t[5:-1]
            return any(d == dom or d.endswith("." + dom) for d in doc.domains)
        if t.startswith("lang:"):
            return doc.lang is not None and doc.lang.split("-")[0] == t[5:]
        assert ":" not in t, t
        return phrase(tokenize(t))

    def or_expr() -> bool:
        nonlocal pos
        val = and_expr()
        while pos < len(toks) and toks[pos] == "OR":
            pos += 1
            val = and_expr() or val
        return val

    def and_expr() -> bool:
        nonlocal pos
        assert pos < len(toks) and toks[pos] not in ("OR", ")"), f"dangling operator in {rule!r}"
        val = True
        while pos < len(toks) and toks[pos] not in ("OR", ")"):
            val = unary() and val
        return val

    def unary() -> bool:
        nonlocal pos
        t = toks[pos]
        pos += 1
        if t == "-":
            return not unary()
        if t == "(":
            val = or_expr()
            assert pos < len(toks) and toks[pos] == ")", f"unbalanced parentheses in {rule!r}"
            pos += 1
            return val
        assert t not in ("AND", "NOT", "OR", ")"), f"{t} misplaced in {rule!r}"
        return atom_value(t)

    result = or_expr()
    assert pos == len(toks), f"unbalanced parentheses in {rule!r}"
    return result


def test_x_evaluator_follows_x_precedence():
    d = document("a b", author="bob")
    assert x_eval("c OR a b", d) and not x_eval("(c OR a) d", d) and x_eval("-c a", d)
    assert x_eval("from:bob", d) and not x_eval("@bob", d)


@pytest.mark.parametrize("query, kw, local", [
    ("x NOT (strike NEAR/1 doctors)", {"text": "x strike a b c doctors"}, True),
    ("strike NEAR/1 doctors", {"text": "doctors on strike"}, True),
    ("@bob nhs", {"text": "nhs", "author": "bob"}, True),
    # X's -@bob only sees mentions, so the rule lets through what the local match then drops
    ("nhs NOT @bob", {"text": "nhs", "author": "bob"}, False),
])
def test_x_rules_are_a_prefilter(query, kw, local):
    kw = dict(kw)
    q, doc = Query(query), document(kw.pop("text"), **kw)
    assert (q.match(doc) is not None) is local
    assert any(x_eval(r, doc) for r in q.x_rules())


x_word = st.builds(lambda i: f"w{i}", st.integers(0, 60))
x_term = st.one_of(
    x_word, x_word, x_word,
    st.builds(lambda a, b: f'"{a} {b}"', x_word, x_word),
    st.builds(lambda a: f"#{a}", x_word),
    st.builds(lambda a: f"@{a}", x_word),
    st.builds(lambda a: f"author:{a}", x_word),
    st.builds(lambda a: f"site:{a}.org", x_word),
)


@st.composite
def x_docs(draw):
    ws = draw(st.lists(x_word, max_size=12))
    return document(" ".join(ws), hashtags=draw(st.lists(x_word, max_size=3)), mentions=draw(st.lists(x_word, max_size=2)),
                    links=[f"https://www.{w}.org/" for w in draw(st.lists(x_word, max_size=2))],
                    author=draw(st.one_of(st.none(), x_word)), lang=draw(st.sampled_from([None, "en", "fr"])))


@FEWER
@given(st.lists(x_term, min_size=15, max_size=90), st.lists(x_term, max_size=30),
       st.lists(st.one_of(x_word, st.builds(lambda a: f"#{a}", x_word)), max_size=3),
       st.booleans(), st.integers(120, 400), st.lists(x_docs(), min_size=1, max_size=8))
def test_x_rules_cover_the_query(ors, ands, nots, lang, max_len, documents):
    text = "(" + " OR ".join(ors) + ")"
    if ands:
        text += " (" + " OR ".join(ands) + ")"
    if nots:
        text += " NOT (" + " OR ".join(nots) + ")"
    if lang:
        text += " lang:en"
    q = Query(text)
    rules = q.x_rules(max_len)
    assert rules
    for r in rules:
        assert len(r) <= max_len
        depth = 0
        for ch in r:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            assert depth >= 0, r
        assert depth == 0, r
        assert not re.search(r"(^|\()\s*OR\b|\bOR\s*(\)|$)|\bOR\s+OR\b", r), r
        if nots:
            assert "-" + nots[0] in r or "-(" + nots[0] in r  # negations stay in every rule
    whole = q.to_x()
    for doc in documents:
        expected = q.match(doc) is not None
        assert any(x_eval(r, doc) for r in rules) == expected, (rules, doc)
        assert x_eval(whole, doc) == expected


@PROPS
@given(ast_no_wildcards, st.data())
def test_x_rules_never_lose_a_post_the_query_matches(ast, data):
    """Without wildcards the X rules are a true prefilter, NEAR (also under NOT) and @ included."""
    try:
        q = Query(render(ast))
        rules = q.x_rules()
    except QueryError:  # a NOT-only query, or a part too long for one rule
        assume(False)
    for _, doc in data.draw(st.lists(docs(ast_words(ast)), min_size=3, max_size=8)):
        if q.match(doc) is not None:
            assert any(x_eval(r, doc) for r in rules), (q.source, rules, doc)


@PROPS
@given(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=40), st.integers(40, 200))
def test_x_rules_with_wildcards_stay_short(words, max_len):
    text = " OR ".join(w + "*" if len(w) >= 3 and i % 3 == 0 else w for i, w in enumerate(words))
    for r in Query(f"({text}) NOT pay").x_rules(max_len):
        assert len(r) <= max_len and r.endswith("-pay")


# --- the parser never fails with anything but QueryError ---------------------------------------

_SYNTAX = list('()"“”-*#@:/&\' \n') + ["AND", "OR", "NOT", "NEAR/", "NEAR/2", "site:", "author:", "lang:", "a", "nhs",
                                         "é", "vac", "3", "from:", "url:", "_"]


@PROPS
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(_SYNTAX), max_size=25).map("".join)))
def test_parser_raises_only_query_errors(text):
    try:
        q = Query(text)
    except QueryError as err:
        assert 0 <= err.position <= len(text)
        assert "column" in str(err)
        return
    doc = document("nhs vaccine a " + text, author="a", lang="en")
    got = q.match(doc)
    assert got is None or set(got) <= set(q.terms())
    assert q.to_x()
    try:
        assert all(len(r) <= 512 for r in q.x_rules())
    except QueryError:
        pass


# --- fast paths give what the general code gives ------------------------------------------------

@PROPS
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_tokenizer_is_the_general_one(text):
    from monitor.query.text import _POSSESSIVE, _WORD, _fold

    folded = _fold(text).replace("_", " ")
    if "'" in folded:
        folded = _POSSESSIVE.sub("", folded)
    assert tokenize(text) == _WORD.findall(folded)


@pytest.mark.parametrize("url", [
    "https://www.England.NHS.uk/news?x=1", "http://nhs.uk", "HTTPS://WWW.GOV.UK/", "https://bbc.co.uk#top",
    "https://user:pw@nhs.uk/a", "https://nhs.uk:8443/a", "http://[::1]/x", "https://xn--caf-dma.fr/",
    "https://nhs.uk./a", "https://www./", "https://a_b.example/x", "https://café.fr/menu", "www.nhs.uk/a",
    "https://nhs.uk).", "https://", "http://-bad-.example/",
])
def test_domain_fast_path_agrees_with_urlsplit(url):
    from urllib.parse import urlsplit

    from monitor.query.text import _URL_TRAIL, _domain

    u = url.strip().rstrip(_URL_TRAIL)
    u = u if "://" in u[:12] else "http://" + u
    try:
        host = urlsplit(u).hostname
    except ValueError:
        host = None
    host = (host or "").lower().rstrip(".")
    expected = (host[4:] if host.startswith("www.") else host) or None
    assert _domain(url) == expected

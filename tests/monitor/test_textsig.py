"""Text signatures (monitor.textsig): worked out at ingest, back-filled by migration 0016, read by the bot
detector instead of the texts; a post without one is signed from its text, with the same flags."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from influence import bots
from monitor import models as m, textsig
from monitor.store import upgrade
from tests.influence.network import T0, TOPIC, acc, post

SINCE, UNTIL = T0 - timedelta(hours=1), T0 + timedelta(days=7)


def test_a_signature_is_the_same_today_and_next_year():
    """Every hash is defined in the module: a stored signature must keep matching (a change needs a migration
    that signs every post again)."""
    sig = textsig.signatures(["Sign the petition now, before Friday!"])[0]
    assert sig.hex() == (
        "17b7104290803720d72445a3072da9828cdc07b8f2233c95ccb974384c43a867ff189916494c5e2152a6358cccb184ea"
        "3e218588fc3560885d9e1383170b7446daef7202d32a77aa476e04f3e570a69ca6e02490f30f7528")
    rec = textsig.decode([sig])[0]
    assert int(rec["key"]) == textsig.text_key("sign the petition now before friday")
    # near-identical texts share band keys, unrelated ones none; a short text has nothing to compare
    a, b, other = textsig.decode([s for s in textsig.signatures([
        "Carers deserve better, sign the petition now before friday",
        "carers deserve better: sign the petition now before Friday!! https://t.co/x",
        "The waiting list for hip operations is a national scandal", "too short"]) if s])
    assert a["key"] == b["key"] and (a["bands"] == b["bands"]).all()
    assert not (a["bands"] == other["bands"]).any() and textsig.signatures(["too short"]) == [b""]
    assert textsig.post_signatures(["retweet", "original"], ["RT @a: carers deserve better today", "hi"]) == \
        [None, b""]


def spam_store(store):
    """Six accounts posting near-identical texts, a retweet of one, and an unrelated post."""
    accounts = [acc(f"r{i}", created_at=T0 - timedelta(days=2000), posts_count=100) for i in range(6)]
    accounts.append(acc("h", "helen"))
    posts = []
    for i in range(6):
        for j in range(3):
            posts.append(post(f"s{i}{j}", f"r{i}", minutes=10 * i + j,
                              text=["Carers deserve better, sign the petition now!!",
                                    "carers deserve better: sign the petition now before friday",
                                    "Carers deserve better. Sign the petition NOW https://t.co/x"][j]))
    posts.append(post("rt", "h", "retweet", 100, ref=("retweet", "s00", "r0")))
    posts.append(post("h1", "h", minutes=5, text="Our local carers group meets on Tuesday evenings"))
    posts.append(post("h2", "h", minutes=6, text="ok"))
    posts.append(post("off", "h", minutes=7, text="An untagged post about something else entirely", topics={}))
    store.write_batch(posts, accounts)


def stored_sigs(store) -> dict[str, bytes | None]:
    with store.engine.connect() as conn:
        return {pid: (bytes(s) if s is not None else None)
                for pid, s in conn.execute(select(m.posts.c.platform_id, m.posts.c.text_sig))}


def test_ingest_signs_posts_and_the_migration_back_fills_them(store):
    spam_store(store)
    sigs = stored_sigs(store)
    with store.engine.connect() as conn:
        rows = conn.execute(select(m.posts.c.platform_id, m.posts.c.kind, m.posts.c.text)
                            .where(m.posts.c.platform_id != "off")).all()
    assert {k: v for k, v in sigs.items() if k != "off"} == \
        dict(zip([r[0] for r in rows], textsig.post_signatures([r[1] for r in rows], [r[2] for r in rows])))
    assert sigs["rt"] is None and sigs["h2"] == b"" and len(sigs["h1"]) == textsig.SIG_BYTES
    assert sigs["off"] is None  # untagged: the search never compares it (signed from its text if tagged later)
    flags = bots.detect(store, TOPIC, SINCE, UNTIL).stored()
    assert sum("duplicate_text" in kinds for _, _, _, kinds, _ in flags) == 6
    # down to the schema before signatures and up again: the migration signs what was stored
    upgrade(store.engine, "0015_influence_jobs", down=True)
    upgrade(store.engine)
    sigs["off"] = textsig.signatures(["An untagged post about something else entirely"])[0]  # every non-retweet
    assert stored_sigs(store) == sigs
    # and the statement alone, in small chunks, on posts whose signature is gone
    with store.engine.begin() as conn:
        conn.execute(update(m.posts).values(text_sig=None))
        assert textsig.backfill(conn, store.dialect, chunk=4) == sum(1 for s in sigs.values() if s is not None)
    assert stored_sigs(store) == sigs
    # a post without a signature (written by other means) is signed from its text: the same flags
    with store.engine.begin() as conn:
        conn.execute(update(m.posts).values(text_sig=None))
    assert bots.detect(store, TOPIC, SINCE, UNTIL).stored() == flags
    # so is every post when the thresholds ask for another minimum length than the signatures were made at
    longer = bots.detect(store, TOPIC, SINCE, UNTIL, thresholds=bots.Thresholds(duplicate_min_chars=60))
    assert not any("duplicate_text" in f.kinds for f in longer.values())

"""Text signatures: each post's normalised text reduced once, at ingest, to what finds its near-duplicates.

The bot detector (:mod:`influence.bots`, signal ``duplicate_text``) asks every hour which posts of a
topic's window are near-identical to each other: a Jaccard similarity of their word pairs of at least
0.8 once the texts are normalised (:func:`normalise_text`). Normalising and hashing 450,000 texts each
hour cost most of the recompute (10 s of 14 s at a million interactions), for texts that never change
(an edit is a new post). So the store keeps, per post, a signature worked out when the post is stored
(``posts.text_sig``, migration 0016; :func:`backfill` fills the posts stored before):

- ``NULL``: no signature (a retweet, whose words are its original's and which the detector does not
  compare; a post the store wrote untagged, e.g. one seen only as a reference, since the detector reads
  a topic's posts only; a post written by something other than the store, such as a benchmark's bulk
  insert). The detector works it out from the text when it compares the post.
- ``b""``: nothing to compare: the normalised text is shorter than :data:`MIN_CHARS`.
- :data:`SIG_BYTES` bytes, little-endian: the 64-bit key of the normalised text (equal texts, equal
  keys: exact duplicates are grouped by it), then :data:`BANDS` 32-bit band keys of a MinHash of its
  word pairs (:data:`ROWS` hash values each): two texts whose signatures share a band key are candidates,
  checked exactly on their texts. Two texts of word-pair similarity ``s`` share a band with probability
  ``1 - (1 - s**ROWS)**BANDS``: 0.998 at 0.8, 0.92 at 0.7, 0.014 at 0.3.

Every hash is defined here (BLAKE2b of each word, fixed multiply-shift constants from splitmix64), not
taken from Python's salted ``hash`` or a random generator whose stream may change between versions, so a
signature stored today matches one worked out next year. Changing any of it (the normalisation, the
shingles, the constants, the bands) needs a migration that works the signatures out again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from hashlib import blake2b
from typing import Iterable, Sequence

import numpy as np

#: Normalised characters a text needs before it is compared (shorter: ``b""``).
MIN_CHARS = 20
#: MinHash bands and rows per band (tuned for a similarity of 0.8; see the module doc).
BANDS, ROWS = 20, 6
#: Bytes of a signature: the text's key and the band keys.
SIG_BYTES = 8 + 4 * BANDS
#: A numpy record of one signature.
SIG_DTYPE = np.dtype([("key", "<u8"), ("bands", "<u4", (BANDS,))])
assert SIG_DTYPE.itemsize == SIG_BYTES

_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_MENTION = re.compile(r"(?<!\w)@\w+")
_RT = re.compile(r"^rt\s+@\w+:?\s*", re.I)
_NONWORD = re.compile(r"[^a-z]+")


def normalise_text(text: str) -> str:
    """Lower case, without links, @mentions, a leading ``RT @x:``, numbers and punctuation.

    Examples
    --------
    >>> normalise_text("RT @bob: Don't ban our VAPES!! https://t.co/x 2024 @ukhsa #VapingSavesLives")
    'don t ban our vapes vapingsaveslives'
    """
    t = text or ""
    if t[:2].lower() == "rt":  # each pattern runs only where it can match (most texts have no link or mention)
        t = _RT.sub("", t)
    if "://" in t or "." in t:
        t = _URL.sub(" ", t)
    if "@" in t:
        t = _MENTION.sub(" ", t)
    return _NONWORD.sub(" ", t.lower()).strip()


def shingles(norm: str) -> set[str]:
    """The word pairs of a normalised text (a text of fewer than three words: the text itself), as compared.

    >>> sorted(shingles("sign the petition now"))
    ['petition now', 'sign the', 'the petition']
    """
    w = norm.split()
    return {norm} if len(w) < 3 else {f"{a} {b}" for a, b in zip(w, w[1:])}


def _splitmix64(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


def _constants(n: int, seed: int) -> np.ndarray:
    out, state = [], seed
    for _ in range(n):
        state, z = _splitmix64(state)
        out.append(z)
    return np.array(out, dtype=np.uint64)


_R = BANDS * ROWS
_A = (_constants(_R, 0x5EED0001) | np.uint64(1)).reshape(_R, 1)  # odd multipliers
_B = _constants(_R, 0x5EED0002).reshape(_R, 1)
_PAIR, _SINGLE, _BAND = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x100000001B3)


@lru_cache(maxsize=1 << 16)  # a batch's words are mostly the words of the batches before (~11 MB at most)
def _word_hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode(), digest_size=8).digest(), "little")


def text_key(norm: str) -> int:
    """The 64-bit key of a normalised text (BLAKE2b): equal texts have equal keys."""
    return int.from_bytes(blake2b(norm.encode(), digest_size=8, person=b"earshot-text").digest(), "little")


def minhash_bands(norms: Sequence[str]) -> np.ndarray:
    """The :data:`BANDS` band keys of each normalised text (each non-empty), as a ``(len(norms), BANDS)``
    uint32 array: one numpy pass over every word pair of every text."""
    n = len(norms)
    out = np.zeros((n, BANDS), dtype=np.uint32)
    if n == 0:
        return out
    lengths = np.fromiter((s.count(" ") + 1 for s in norms), dtype=np.int64, count=n)
    words = " ".join(norms).split()
    vocab = dict.fromkeys(words)
    for w in vocab:
        vocab[w] = _word_hash(w)
    h = np.fromiter(map(vocab.__getitem__, words), dtype=np.uint64, count=len(words))
    del words
    text = np.repeat(np.arange(n, dtype=np.int64), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    pair = np.flatnonzero(text[:-1] == text[1:]) if h.size > 1 else np.zeros(0, dtype=np.int64)
    single = np.flatnonzero(lengths == 1)  # a one-word text is its own shingle (a two-word one is its one pair)
    with np.errstate(over="ignore"):
        sh = np.concatenate([(h[pair] * _PAIR) ^ h[pair + 1], h[starts[single]] * _SINGLE])
    owner = np.concatenate([text[pair], single])
    order = np.argsort(owner, kind="stable")  # by text (a repeated pair changes no minimum)
    owner, sh = owner[order], sh[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=ptr[1:])
    sig = np.empty((_R, n), dtype=np.uint64)
    lo, step = 0, 200_000  # shingles per chunk: the (hashes x shingles) products fit in memory
    while lo < n:
        hi = int(np.searchsorted(ptr, ptr[lo] + step, side="right"))
        hi = min(max(hi - 1, lo + 1), n)
        seg = sh[ptr[lo]:ptr[hi]]
        with np.errstate(over="ignore"):
            sig[:, lo:hi] = np.minimum.reduceat((_A * seg[None, :] + _B) >> np.uint64(32), ptr[lo:hi] - ptr[lo],
                                                axis=1)
        lo = hi
    rows = sig.reshape(BANDS, ROWS, n)  # each band's rows folded into one key, every band at once
    k = np.zeros((BANDS, n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(ROWS):
            k = (k ^ rows[:, j]) * _BAND
    out[:] = (k >> np.uint64(32)).astype(np.uint32).T
    return out


def signatures(texts: Iterable[str], *, min_chars: int = MIN_CHARS) -> list[bytes]:
    """The signature of each text (``b""`` when its normalised text is shorter than ``min_chars``).

    >>> a, b, c = signatures(["Sign the petition now, before Friday!", "sign the petition now before friday",
    ...                       "too short"])
    >>> a == b, len(a), c
    (True, 88, b'')
    """
    norms = [normalise_text(t) for t in texts]
    keep = [i for i, s in enumerate(norms) if len(s) >= min_chars]
    recs = np.zeros(len(keep), dtype=SIG_DTYPE)
    if keep:
        kept = [norms[i] for i in keep]
        recs["key"] = np.fromiter(map(text_key, kept), dtype=np.uint64, count=len(kept))
        recs["bands"] = minhash_bands(kept)
    out = [b""] * len(norms)
    raw = recs.tobytes()
    for j, i in enumerate(keep):
        out[i] = raw[j * SIG_BYTES:(j + 1) * SIG_BYTES]
    return out


def post_signatures(kinds: Sequence[str], texts: Sequence[str]) -> list[bytes | None]:
    """What the store keeps in ``posts.text_sig`` for posts of these kinds and texts (``None`` for retweets)."""
    want = [i for i, k in enumerate(kinds) if k != "retweet"]
    out: list[bytes | None] = [None] * len(kinds)
    for i, s in zip(want, signatures([texts[i] for i in want])):
        out[i] = s
    return out


def decode(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored signatures (each :data:`SIG_BYTES` long) as one :data:`SIG_DTYPE` array."""
    if not blobs:
        return np.zeros(0, dtype=SIG_DTYPE)
    return np.frombuffer(b"".join(blobs), dtype=SIG_DTYPE)


def backfill(conn, dialect: str, *, chunk: int = 20_000) -> int:
    """Work out the signature of every post that has none but should (not a retweet); returns how many.

    Reads the posts in id order, ``chunk`` at a time, and writes each chunk's signatures with one
    statement (PostgreSQL: an ``UPDATE ... FROM unnest``) or one ``executemany`` (SQLite).
    """
    from sqlalchemy import text as sql_text

    done, last = 0, -1
    while True:
        rows = conn.execute(sql_text(
            "SELECT id, text FROM posts WHERE id > :last AND text_sig IS NULL AND kind <> 'retweet' "
            "ORDER BY id LIMIT :n"), {"last": last, "n": chunk}).all()
        if not rows:
            return done
        ids = [r[0] for r in rows]
        sigs = signatures([r[1] or "" for r in rows])
        if dialect == "postgresql":
            conn.execute(sql_text("UPDATE posts SET text_sig = u.sig FROM unnest(CAST(:ids AS bigint[]), "
                                  "CAST(:sigs AS bytea[])) AS u(id, sig) WHERE posts.id = u.id"),
                         {"ids": ids, "sigs": sigs})
        else:
            conn.exec_driver_sql("UPDATE posts SET text_sig = ? WHERE id = ?", list(zip(sigs, ids)))
        done += len(rows)
        last = ids[-1]

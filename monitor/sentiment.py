"""Sentiment: VADER compound scores (-1 very negative .. +1 very positive).

VADER is a lexicon and rule-based scorer tuned for social media text; it needs
no model download. Thresholds follow its authors: compound <= -0.05 is
negative, >= 0.05 positive, in between neutral.
"""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

NEGATIVE = -0.05
POSITIVE = 0.05


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def score(text: str) -> float:
    """VADER compound score of ``text``; empty text is neutral (0.0)."""
    if not text or not text.strip():
        return 0.0
    return float(analyzer().polarity_scores(text)["compound"])


def label(compound: float) -> str:
    """``negative``, ``neutral`` or ``positive`` for a compound score."""
    if compound <= NEGATIVE:
        return "negative"
    if compound >= POSITIVE:
        return "positive"
    return "neutral"

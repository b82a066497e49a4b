"""Who may be named to ministers, and how everyone else appears.

An account is **named** when it is on a topic's stakeholder list, on ``public_accounts``, a news
feed (articles are published under an outlet's name), or has at least ``public_min_followers``
followers (an organisation or public figure), and is not on ``private_accounts``. Everyone else is a
private individual: shown as "a member of the public" with what they said, never their handle,
name or a link that carries their handle, in the e-mail, the PDF and the archive. Handles
mentioned inside post text are masked the same way.

>>> n = Naming(stakeholders={"nhsengland"}, public={"drfamous"}, private=set(), min_followers=10_000)
>>> n.named("x", "NHSEngland", 50), n.named("x", "someone", 50), n.named("x", "bignews", 20_000)
(True, False, True)
>>> n.mask("thanks @someone and @NHSEngland", {"nhsengland": True})
'thanks @[a member of the public] and @NHSEngland'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PUBLIC_LABEL = "a member of the public"
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,50})")
NEWS_PLATFORMS = frozenset({"rss"})


@dataclass
class Naming:
    stakeholders: set[str] = field(default_factory=set)  # every topic's, lower case
    public: set[str] = field(default_factory=set)
    private: set[str] = field(default_factory=set)
    min_followers: int = 10_000

    def named(self, platform: str | None, handle: str | None, followers: int | None) -> bool:
        h = (handle or "").lower()
        if h and h in self.private:
            return False
        if platform in NEWS_PLATFORMS:
            return True
        if h and (h in self.stakeholders or h in self.public):
            return True
        return bool(h) and (followers or 0) >= self.min_followers

    def mask(self, text: str, named_handles: dict[str, bool]) -> str:
        """``text`` with every @handle not known to be nameable replaced by a neutral mark."""

        def sub(m: re.Match) -> str:
            return m.group(0) if named_handles.get(m.group(1).lower()) else f"@[{PUBLIC_LABEL}]"

        return MENTION.sub(sub, text)


def mentioned(text: str) -> set[str]:
    """Lower-case handles mentioned in ``text``."""
    return {h.lower() for h in MENTION.findall(text or "")}

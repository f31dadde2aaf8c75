"""Social profile links on a page: LinkedIn, X/Twitter, Facebook, Instagram, YouTube, GitHub —
profiles only, never share or intent links."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

SOCIAL_NETWORKS = ("linkedin", "twitter", "facebook", "instagram", "youtube", "github")

_SOCIAL_HOSTS = {
    "linkedin.com": "linkedin",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "instagram.com": "instagram",
    "youtube.com": "youtube",
    "github.com": "github",
}
_SOCIAL_HINT = re.compile(
    r"linkedin\.|twitter\.|x\.com|facebook\.|fb\.com|instagram\.|youtube\.|github\.", re.IGNORECASE
)
# First path segments that are actions, feeds or content, not a profile.
_NOT_PROFILE = {
    "linkedin": {"sharearticle", "sharing", "share", "feed", "login", "signup", "jobs", "posts"},
    "twitter": {
        *("intent", "share", "home", "search", "hashtag", "i", "login", "signup", "explore"),
        *("widgets", "settings", "tos", "privacy", "messages", "notifications"),
    },
    "facebook": {
        *("sharer", "sharer.php", "share", "share.php", "dialog", "plugins", "tr", "login"),
        *("home.php", "events", "groups", "watch", "help", "policies", "privacy"),
    },
    "instagram": {"p", "reel", "reels", "tv", "explore", "accounts", "stories", "direct"},
    "youtube": {"watch", "embed", "shorts", "playlist", "results", "feed", "share", "live"},
    "github": {
        *("sponsors", "login", "join", "features", "about", "marketplace", "topics", "explore"),
        *("site", "pricing", "search", "settings", "collections", "trending", "orgs"),
    },
}
_LINKEDIN_KINDS = {"company", "in", "school", "showcase"}
_YOUTUBE_KINDS = {"channel", "c", "user"}


def classify_social(url: str) -> tuple[str, str] | None:
    """(network, profile URL) for a link to a social profile; None for share/intent/content links."""
    url = url.strip()
    if not _SOCIAL_HINT.search(url):  # most links are not social: skip parsing them
        return None
    try:
        parts = urlsplit("https:" + url if url.startswith("//") else url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return None
    for prefix in ("www.", "m.", "mobile.", "de.", "uk.", "fr.", "es.", "it."):
        if host.startswith(prefix) and host[len(prefix) :] in _SOCIAL_HOSTS:
            host = host[len(prefix) :]
            break
    network = _SOCIAL_HOSTS.get(host)
    if network is None:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if not segments or segments[0].lower() in _NOT_PROFILE[network]:
        return None
    first = segments[0].lower()
    if network == "facebook" and first == "profile.php":
        profile_id = re.search(r"(?:^|&)id=(\d+)", parts.query)
        return (network, f"https://{host}/profile.php?id={profile_id[1]}") if profile_id else None
    if network == "linkedin":
        if first not in _LINKEDIN_KINDS or len(segments) < 2:
            return None
        segments = segments[:2]
    elif network == "youtube":
        if first in _YOUTUBE_KINDS and len(segments) >= 2:
            segments = segments[:2]
        elif first.startswith("@"):
            segments = segments[:1]
        else:
            return None
    else:
        segments = segments[:1]  # the account, not one of its posts or repositories
    return network, f"https://{host}/{'/'.join(segments)}"


# A profile's host name, lower-cased, holds one of these. Looking for them in all of a page's links
# at once (a few memchr-speed finds) spares running _SOCIAL_HINT on each of its hundreds of links.
_HOST_MARKS = (
    *(b"linkedin.", b"twitter.", b"x.com", b"facebook.", b"fb.com", b"instagram.", b"youtube."),
    b"github.",
)


def social_profiles(urls: Iterable[str]) -> dict[str, str]:
    """The first profile per network among `urls`, in the networks' fixed order."""
    found: dict[str, str] = {}
    for url in _maybe_social(list(urls)):
        hit = classify_social(url)
        if hit is not None:
            found.setdefault(*hit)
    return {network: found[network] for network in SOCIAL_NETWORKS if network in found}


def _maybe_social(urls: list[str]) -> list[str]:
    """The URLs, in order, whose ASCII lower-case holds a network's host name.

    Host names are compared lower-cased, and the only character outside ASCII that lower-cases
    into ASCII letters there is U+212A KELVIN SIGN ("k"): a page with one has every URL checked.
    """
    joined = "\n".join(urls)
    if "\u212a" in joined:
        return urls
    data = joined.encode("ascii", "replace").lower()  # one byte a character: same offsets
    ends = list(itertools.accumulate(len(url) + 1 for url in urls))
    hits: set[int] = set()
    for mark in _HOST_MARKS:
        at = data.find(mark)
        while at != -1:
            hits.add(bisect.bisect_right(ends, at))
            at = data.find(mark, at + 1)
    return [urls[index] for index in sorted(hits)]

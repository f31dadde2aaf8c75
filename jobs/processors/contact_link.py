"""Which link on a homepage leads to its contact/about page (for site_profile).

A link ranks by the words of its text (and title) and of its path: a contact page over a legal
notice (which names address and e-mail) over an "about" page; it must stay on the same site.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

_CONTACT_WORDS = (
    *("contact", "contacts", "kontakt", "contacto", "contato", "contatti", "contactez"),
    *("get in touch", "reach us"),
)
_LEGAL_WORDS = ("impressum", "imprint", "legal notice", "mentions légales", "aviso legal")
_ABOUT_WORDS = (
    *("about", "about us", "über uns", "ueber uns", "uber uns", "company", "unternehmen"),
    *("who we are", "our story", "qui sommes nous", "chi siamo", "sobre nosotros"),
)
# Best first: a contact page over a legal notice (which names address and e-mail) over "about".
_LINK_RANKS = ((3, _CONTACT_WORDS), (2, _LEGAL_WORDS), (1, _ABOUT_WORDS))
_NOT_LINKS = ("#", "mailto:", "tel:", "javascript:", "data:")
MAX_URL_LENGTH = 2048
_NOT_PAGES = frozenset({"pdf", "jpg", "jpeg", "png", "gif", "webp", "svg", "zip", "doc", "docx"})


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


_NEEDLES = tuple((rank, tuple(map(_words, words))) for rank, words in _LINK_RANKS)
# One ASCII word (or part of one) from each needle, for `_candidates`. Matched in the ASCII twin
# of the text ("?" for every other character), lower-cased byte-wise; so none holds a "k", the one
# ASCII letter a non-ASCII character lower-cases to (U+212A KELVIN SIGN). "onta": contact,
# kontakt, contato, contatti… test_every_link_needle_holds_a_hint keeps this list complete.
LINK_HINTS = (
    *("onta", "touch", "reach", "mpressum", "mprint", "legal", "gales", "about", "uns"),
    *("company", "unternehmen", "who", "story", "sommes", "siamo", "nosotros"),
)
_HINTS = (*(hint.encode() for hint in LINK_HINTS), b"%")


def link_rank(text: str, href_path: str) -> int:
    """How good a link looks as the contact/about page, from its text and path: 0 means not."""
    text_words, path_words = _words(text), _words(unquote(href_path))
    for rank, needles in _NEEDLES:
        if any(needle in text_words or needle in path_words for needle in needles):
            return rank
    return 0


def site_host(host: str | None) -> str:
    host = (host or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def same_site(url: str, other: str) -> bool:
    """Same host, or its www. variant (and the same port)."""
    try:
        a, b = urlsplit(url), urlsplit(other)
        return site_host(a.hostname) == site_host(b.hostname) and a.port == b.port
    except ValueError:  # a port out of range, a bad IPv6 literal
        return False


def contact_link(tree: LexborHTMLParser, base_url: str) -> str | None:
    """The best same-site contact/about link on the page (document order breaks ties)."""
    here = base_url.split("#", 1)[0]
    best: tuple[int, str | None] = (0, None)
    for label, href in _candidates(tree):
        if not href or len(href) > MAX_URL_LENGTH or href.lower().startswith(_NOT_LINKS):
            continue
        if link_rank(label, href) <= best[0]:  # cheap filter on the raw href: most links are out
            continue
        try:
            url = urljoin(base_url, href).split("#", 1)[0]
            path = urlsplit(url).path
        except ValueError:  # a bad IPv6 literal
            continue
        rank = link_rank(label, path)
        if rank <= best[0] or path.rsplit(".", 1)[-1].lower() in _NOT_PAGES:
            continue
        if url.startswith(("http://", "https://")) and url != here and same_site(url, base_url):
            best = (rank, url)
    return best[1]


def _candidates(tree: LexborHTMLParser) -> list[tuple[str, str]]:
    """(label, href) of the links, in document order, whose text, title or href may rank.

    Ranking a link takes two regex tokenisations and ~50 substring tests; a page has hundreds of
    links and few of them rank. A link can only rank when its text, title or href, lower-cased,
    holds the hint of one of its needles, so all of them go into one string, searched once per
    hint, and only the links with a hit are ranked. The text searched is lexbor's own (no
    separator between text nodes: cheaper, and it holds every word of the separated one); a "%"
    may hide any word in an href.
    """
    anchors = tree.css("a[href]")
    hrefs = [(a.attrs.get("href") or "").strip() for a in anchors]
    parts = [a.text_lexbor() for a in anchors] + hrefs
    if titled := {a.mem_id: a.attrs.get("title") or "" for a in tree.css("a[href][title]")}:
        parts += [titled.get(a.mem_id, "") for a in anchors]
    # NUL between parts: the parser never leaves one in a text or an attribute. ASCII bytes, one
    # a character, so a hit's part is the number of NULs before it.
    data = "\0".join(parts).encode("ascii", "replace").lower()
    hits: set[int] = set()
    for hint in _HINTS:
        at = data.find(hint)
        while at != -1:
            hits.add(data.count(b"\0", 0, at) % len(anchors))
            at = data.find(hint, at + 1)
    return [(_label(anchors[i]), hrefs[i]) for i in sorted(hits)]


def _label(anchor: LexborNode) -> str:
    """What a link says: its text (a space between text nodes) and its title."""
    return " ".join(filter(None, (anchor.text(separator=" "), anchor.attrs.get("title"))))

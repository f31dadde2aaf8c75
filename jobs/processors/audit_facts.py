"""What page_audit reads from a parsed page: one small function per fact, selectolax selectors only.

Speed matters here (the audit must keep up with http_check on a 100 KB page), so every fact is found
by a CSS selector run in C (lexbor) that returns only the few nodes Python has to look at: links are
counted by selectors and only absolute or odd hrefs are parsed in Python; the word count runs over the
UTF-8 bytes of the visible text with byte tables, not a regex or a Python loop per word.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

_HIDDEN = "script, style, noscript, template"
_HIDDEN_IN_NOSCRIPT = "noscript script, noscript style, noscript noscript, noscript template"
NOINDEX = frozenset({"noindex", "none"})
# X-Robots-Tag "name: value" directives that are not a user-agent prefix.
_VALUED_DIRECTIVES = frozenset(
    {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
)
_LD_DEPTH = 8


@dataclass(slots=True)
class Facts:
    title: str | None = None
    description: str | None = None
    viewport: str | None = None
    robots: list[str] = field(default_factory=list)
    lang: str | None = None
    canonical: str | None = None
    h1: list[str] = field(default_factory=list)
    hreflang: list[dict[str, str]] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    ld_types: list[str] = field(default_factory=list)
    word_count: int = 0


def collapse(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def read_facts(tree: LexborHTMLParser, final_url: str, token: str) -> Facts:
    """Every fact of the page (the tree is only read)."""
    facts = Facts()
    html = tree.css_first("html")
    facts.lang = collapse(html.attrs.get("lang")) or None if html is not None else None
    title = tree.css_first("title")
    facts.title = collapse(title.text(deep=True)) if title is not None else None
    _read_metas(tree, facts, token.lower())
    base = tree.css_first("base[href]")
    base_url = urljoin(final_url, base.attrs["href"].strip()) if base is not None else final_url
    _read_links(tree, facts, base_url)
    facts.h1 = [collapse(node.text(deep=True, separator=" ")) for node in tree.css("h1")]
    facts.links = count_links(tree, _bare_host(urlsplit(final_url).netloc))
    facts.images = {"total": len(tree.css("img")), "missing_alt": len(tree.css("img:not([alt])"))}
    facts.ld_types = ld_types(tree)
    facts.word_count = visible_word_count(tree)
    return facts


def _read_metas(tree: LexborHTMLParser, facts: Facts, token: str) -> None:
    for node in tree.css("meta[name]"):
        attrs = node.attrs
        name = (attrs.get("name") or "").strip().lower()
        content = attrs.get("content") or ""
        if name == "description" and facts.description is None:
            facts.description = collapse(content)
        elif name == "viewport" and facts.viewport is None:
            facts.viewport = collapse(content)
        elif name in ("robots", token):
            facts.robots.append(collapse(content))


def _read_links(tree: LexborHTMLParser, facts: Facts, base_url: str) -> None:
    for node in tree.css("link[rel][href]"):
        attrs = node.attrs
        rel = (attrs.get("rel") or "").lower().split()
        href = (attrs.get("href") or "").strip()
        if not href:
            continue
        if "canonical" in rel and facts.canonical is None:
            facts.canonical = urljoin(base_url, href)
        elif "alternate" in rel and (lang := (attrs.get("hreflang") or "").strip()):
            facts.hreflang.append({"lang": lang, "href": urljoin(base_url, href)})


# --- links -----------------------------------------------------------------------------------


def _bare_host(netloc: str) -> str:
    host = netloc.rpartition("@")[2].lower()
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    return host.removeprefix("www.")


def _classify(href: str, home: str) -> str | None:
    """ "internal", "external" or None (not a link to a page: fragment, mailto:, tel:, broken…)."""
    href = href.strip()
    if not href or href[0] == "#":
        return None
    head = href[:8].lower()
    if head.startswith("https://"):
        rest = href[8:]
    elif head.startswith("http://"):
        rest = href[7:]
    elif href.startswith("//"):
        rest = href[2:]
    else:
        try:
            parts = urlsplit(href)
        except ValueError:
            return None
        if parts.scheme and parts.scheme.lower() not in ("http", "https"):
            return None  # mailto:, tel:, javascript:, data:…
        rest = parts.netloc
    netloc = rest.partition("/")[0].partition("?")[0].partition("#")[0]
    if netloc.startswith("[") and "]" not in netloc:
        return None  # an unbalanced IPv6 bracket: no browser would follow it
    if not netloc or _bare_host(netloc) == home:
        return "internal"
    return "external"


# Hrefs that may carry a scheme or a host, or that are fragment-only or empty; every other href is
# a plain relative URL, so internal without looking.
_ODD_LINKS = 'a[href*=":"], a[href^="//"], a[href^="#"], a[href=""]'


def count_links(tree: LexborHTMLParser, home: str) -> dict[str, int]:
    """<a href> to http(s) pages: internal (same host, "www." ignored), external, nofollow."""
    total = len(tree.css("a[href]"))
    odd = tree.css(_ODD_LINKS)
    kinds = [_classify(node.attrs["href"] or "", home) for node in odd]
    internal = total - len(odd) + kinds.count("internal")
    nofollow = 0
    for node in tree.css('a[href][rel~="nofollow" i]'):
        if _classify(node.attrs["href"] or "", home) is not None:
            nofollow += 1
    return {"internal": internal, "external": kinds.count("external"), "nofollow": nofollow}


# --- structured data -------------------------------------------------------------------------


def _collect_types(data: Any, found: set[str], depth: int = 0) -> None:
    if depth > _LD_DEPTH:
        return
    if isinstance(data, list):
        for entry in data:
            _collect_types(entry, found, depth + 1)
    elif isinstance(data, dict):
        kind = data.get("@type")
        for name in kind if isinstance(kind, list) else [kind]:
            if isinstance(name, str) and name.strip():
                found.add(name.strip())
        if "@graph" in data:
            _collect_types(data["@graph"], found, depth + 1)


def ld_types(tree: LexborHTMLParser) -> list[str]:
    """Sorted JSON-LD @types: top-level items, @graph members, items of top-level lists."""
    found: set[str] = set()
    for node in tree.css("script[type]"):
        kind = (node.attrs.get("type") or "").partition(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        try:
            data = json.loads(node.text(deep=True))
        except (ValueError, RecursionError):
            continue  # broken JSON-LD is the page's problem, not a reason to fail the item
        _collect_types(data, found)
    return sorted(found)


# --- words -----------------------------------------------------------------------------------


def _byte_classes() -> tuple[bytes, bytes]:
    """(table, delete) for bytes.translate: space bytes → b" ", word bytes → b"w", others deleted.

    Word bytes: ASCII letters, digits and "_", and the lead bytes of UTF-8 letters past U+00BF.
    Deleted: ASCII punctuation, continuation bytes, and the lead bytes C2 (U+0080–U+00BF: ©, ·,
    «, ° …), E2 (U+2000–U+2FFF: dashes, quotes, bullets, currency, arrows, math, box drawing…)
    and F0 (emoji, with the rare scripts that share that lead byte).
    """
    table = bytearray(range(256))
    delete = bytearray()
    for byte in range(256):
        if byte in b" \t\n\r\f\v":
            table[byte] = ord(" ")
        elif (byte < 0x80 and (chr(byte).isalnum() or byte == ord("_"))) or (
            byte >= 0xC3 and byte not in (0xE2, 0xF0)
        ):
            table[byte] = ord("w")
        else:
            delete.append(byte)
    return bytes(table), bytes(delete)


_TABLE, _DELETE = _byte_classes()
_SPACES = (b"\xc2\xa0", b"\xe3\x80\x80")  # no-break space, ideographic space


def count_words(text: str) -> int:
    """Whitespace-separated tokens holding a letter or digit ("·", "—", "©", "." alone are not words).

    One pass of bytes.translate keeps a b" " per space and a b"w" per word character and drops
    the rest, so a token without a word character vanishes; every token left starts after a space.
    """
    data = text.encode("utf-8", "replace")
    if not data.isascii():
        for space in _SPACES:
            if space in data:
                data = data.replace(space, b" ")
    classes = data.translate(_TABLE, _DELETE)
    return classes.count(b" w") + classes.startswith(b"w")


def visible_word_count(tree: LexborHTMLParser) -> int:
    """Words of the body's visible text: script, style, noscript and template excluded.

    The text is joined with a space between text nodes, so words never span two nodes and the
    words of the hidden elements can be subtracted (cheaper than stripping them from the tree,
    which stays intact). Template contents are not part of the body's text to begin with.
    """
    body = tree.body
    if body is None:
        return 0
    words = count_words(body.text(deep=True, separator=" "))
    hidden = body.css(_HIDDEN)
    for node in hidden:
        words -= count_words(node.text(deep=True, separator=" "))
    if any(node.tag == "noscript" for node in hidden):
        for node in body.css(_HIDDEN_IN_NOSCRIPT):  # subtracted with their noscript already
            words += count_words(node.text(deep=True, separator=" "))
    return words


# --- robots directives -------------------------------------------------------------------------


def directives(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


def header_noindex(values: list[str], token: str) -> bool:
    """Whether X-Robots-Tag values say noindex to every crawler or to our product token."""
    for value in values:
        name, sep, rest = value.partition(":")
        name = name.strip().lower()
        if sep and name not in _VALUED_DIRECTIVES and " " not in name and "," not in name:
            if name != token.lower():
                continue  # "googlebot: noindex" is for another crawler
            value = rest
        if directives(value) & NOINDEX:
            return True
    return False

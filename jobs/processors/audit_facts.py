"""What page_audit reads from a parsed page, with selectolax (lexbor) selectors only.

Speed matters (the audit runs next to http_check on 100 KB pages). Every selector in a selector
list is a walk of the whole tree in C, and every node it returns costs Python time, so the facts
come from a few walks that return only the nodes Python must look at: metas/links/base; h1 and what
hides text (script, style, noscript, template); images counted by the engine (``img`` and
``img:not([alt])``); and for links, every ``<a href>`` counted, only those that may carry a scheme
or host parsed (one ``:is()`` walk, each href cached), and the nofollow ones. Words are counted
over the UTF-8 bytes of the body's text with a byte table, not a regex or a Python loop per word.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

# The elements read in one pass: h1s and what hides text (JSON-LD is in <script>).
_ELEMENTS = "h1, script, style, noscript, template"
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
    root = tree.root
    if root is not None and root.tag == "html":
        facts.lang = collapse(root.attrs.get("lang")) or None
    title = tree.css_first("title")
    facts.title = collapse(title.text(deep=True)) if title is not None else None
    _read_head(tree, facts, final_url, token.lower())
    _read_elements(tree, facts)
    facts.links = count_links(tree, _bare_host(urlsplit(final_url).netloc))
    return facts


def _read_head(tree: LexborHTMLParser, facts: Facts, final_url: str, token: str) -> None:
    """Metas (description, viewport, robots), <base>, canonical and hreflang links: one pass."""
    base_url = None
    seen_base = False
    links: list[tuple[list[str], str, str]] = []
    for node in tree.css("meta[name], link[rel][href], base[href]"):
        attrs = node.attrs
        tag = node.tag
        if tag == "meta":
            name = (attrs.get("name") or "").strip().lower()
            content = attrs.get("content") or ""
            if name == "description" and facts.description is None:
                facts.description = collapse(content)
            elif name == "viewport" and facts.viewport is None:
                facts.viewport = collapse(content)
            elif name in ("robots", token):
                facts.robots.append(collapse(content))
        elif tag == "link":
            href = (attrs.get("href") or "").strip()
            if href:
                rel = (attrs.get("rel") or "").lower().split()
                links.append((rel, href, (attrs.get("hreflang") or "").strip()))
        elif not seen_base:  # only the first <base href> counts
            seen_base = True
            base_url = _join(final_url, (attrs.get("href") or "").strip())
    base_url = base_url or final_url
    for rel, href, hreflang in links:
        if "canonical" in rel and facts.canonical is None:
            facts.canonical = _join(base_url, href)
        elif "alternate" in rel and hreflang and (url := _join(base_url, href)):
            facts.hreflang.append({"lang": hreflang, "href": url})


def _join(base: str, href: str) -> str | None:
    """`href` made absolute, or None when it cannot be parsed (``http://[::1/``): ignored.

    A path from the root ("/en/") does not depend on the base's path or query, so it is joined
    to the base's origin and cached: every item of a job has its own URL, not its own hreflangs.
    """
    if href[:1] == "/" and href[1:2] not in ("/", "\\"):
        scheme, sep, rest = base.partition("://")
        if sep and scheme.lower() in ("http", "https"):
            netloc = rest.partition("/")[0].partition("?")[0].partition("#")[0]
            if netloc:
                return _cached_join(f"{scheme}://{netloc}/", href)
    return _cached_join.__wrapped__(base, href)


@functools.lru_cache(maxsize=4096)
def _cached_join(base: str, href: str) -> str | None:
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def _counts_as_hidden(node: LexborNode) -> bool:
    """Whether a hidden element's words are in the body's text and not already subtracted."""
    parent = node.parent
    while parent is not None:
        if parent.tag in ("head", "noscript"):
            return False  # not body text, or subtracted with its <noscript>
        parent = parent.parent
    return True


def _read_elements(tree: LexborHTMLParser, facts: Facts) -> None:
    """h1s, images, JSON-LD types and the visible word count: one pass over those elements.

    Body text is joined with a space between text nodes, so words never span two nodes and the
    words of hidden elements (script, style, noscript, template) can be subtracted instead of
    stripping them from the tree. Template contents are not part of the body's text anyway.
    """
    body = tree.body
    hidden_words = 0
    found: set[str] = set()
    # Counted by the selector engine: no Python per image.
    images, missing_alt = len(tree.css("img")), len(tree.css("img:not([alt])"))
    for node in tree.css(_ELEMENTS):
        tag = node.tag
        if tag == "h1":
            facts.h1.append(collapse(node.text(deep=True, separator=" ")))
            continue
        if tag == "script":
            _script_types(node, found)
        if body is not None and _counts_as_hidden(node):
            hidden_words += count_words(_text(node))
    facts.images = {"total": images, "missing_alt": missing_alt}
    facts.ld_types = sorted(found)
    if body is not None:
        facts.word_count = count_words(_text(body)) - hidden_words


def _text(node: LexborNode) -> str:
    """A node's text for counting words: a space between text nodes, whitespace-only ones left out
    (they hold no word, and skipping them makes the string shorter to count)."""
    return node.text(deep=True, separator=" ", skip_empty=True)


# --- links -----------------------------------------------------------------------------------


def _bare_host(netloc: str) -> str:
    host = netloc.rpartition("@")[2].lower()
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    return host.removeprefix("www.")


@functools.lru_cache(maxsize=8192)
def _classify(href: str, home: str) -> str | None:
    """'internal', 'external' or None (not a link to a page: fragment, mailto:, tel:, broken…).

    Cached: the pages of one site share their navigation, header and footer links.
    """
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
# a plain relative URL, so internal without looking. One :is() is one walk of the tree (a selector
# list walks it once per selector).
_ODD_LINKS = 'a:is([href*=":"], [href^="//"], [href^="#"], [href=""])'


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


def _script_types(node: LexborNode, found: set[str]) -> None:
    """Add the @types of a JSON-LD <script> (anything else is ignored, broken JSON included)."""
    kind = (node.attrs.get("type") or "").partition(";")[0].strip().lower()
    if kind != "application/ld+json":
        return
    try:
        data = json.loads(node.text(deep=True))
    except (ValueError, RecursionError):
        return  # broken JSON-LD is the page's problem, not a reason to fail the item
    _collect_types(data, found)


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
_SPACES = ("\u00a0", "\u3000")  # no-break space, ideographic space


def count_words(text: str) -> int:
    """Whitespace-separated tokens holding a letter or digit ("·", "—", "©", "." alone are not words).

    One pass of bytes.translate keeps a b" " per space and a b"w" per word character and drops
    the rest, so a token without a word character vanishes; every token left starts after a space.
    The two non-ASCII spaces are replaced in the str, where looking for one is a memchr (in the
    UTF-8 bytes it is a two-byte search as slow as the count itself).
    """
    if not text.isascii():
        for space in _SPACES:
            if space in text:
                text = text.replace(space, " ")
    classes = text.encode("utf-8", "replace").translate(_TABLE, _DELETE)
    return classes.count(b" w") + classes.startswith(b"w")


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

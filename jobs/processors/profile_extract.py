"""Pure extraction helpers for site_profile: a parsed page in, facts out (no I/O).

Structure comes from the selectolax tree (JSON-LD scripts, meta tags, links, the visible text);
e-mail addresses and phone numbers in that text are `contacts`' job.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import phonenumbers
from selectolax.lexbor import LexborHTMLParser

ORG_TYPES = frozenset(
    {
        *("organization", "corporation", "localbusiness", "onlinebusiness", "onlinestore", "ngo"),
        *("educationalorganization", "governmentorganization", "medicalorganization"),
        *("newsmediaorganization", "sportsorganization", "researchorganization", "airline"),
        *("professionalservice", "legalservice", "financialservice", "store", "restaurant"),
        *("foodestablishment", "homeandconstructionbusiness", "automotivebusiness", "hotel"),
        *("healthandbeautybusiness", "lodgingbusiness", "dentist", "attorney"),
    }
)
ADDRESS_FIELDS = (
    *("streetAddress", "postalCode", "addressLocality", "addressRegion", "addressCountry"),
)
MAX_JSON_LD_NODES = 5000

# --- JSON-LD ----------------------------------------------------------------------------------

_TRAILING_COMMA = re.compile(r",\s{0,100}([}\]])")
_OPENERS = ("//<![CDATA[", "<![CDATA[", "<!--")
_CLOSERS = ("//]]>", "]]>", "-->")


def parse_json_ld(text: str) -> Any | None:
    """One JSON-LD script's data, or None when it is not JSON even after common repairs."""
    text = text.strip()
    for opener, closer in zip(_OPENERS, _CLOSERS, strict=True):  # CMS wrappers around the JSON
        text = text.removeprefix(opener).removesuffix(closer).strip()
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(candidate, strict=False)  # strict=False: raw newlines in strings
        except (ValueError, RecursionError):
            continue
    return None


def json_ld_nodes(tree: LexborHTMLParser) -> tuple[list[dict], int]:
    """Every typed JSON-LD object on the page, top-level ones first; and the count of bad scripts.

    Lists and ``@graph`` are unrolled; nested objects (an Organization's ``address``) follow the
    top-level ones, so a page's own Organization wins over, say, an article's publisher.
    """
    parsed: list[Any] = []
    bad = 0
    for script in tree.css("script[type]"):
        kind = (script.attributes.get("type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        data = parse_json_ld(script.text(deep=True))
        if data is None:
            bad += 1
        else:
            parsed.append(data)
    budget = MAX_JSON_LD_NODES
    top: list[dict] = []  # the scripts' objects, with top-level lists and @graph unrolled
    pending: deque[Any] = deque(parsed)
    while pending and budget:
        budget -= 1
        value = pending.popleft()
        if isinstance(value, dict):
            top.append(value)
            value = value.get("@graph")
        if isinstance(value, list):
            pending.extendleft(reversed(value))
    nodes: list[dict] = []
    queue: deque[Any] = deque(top)
    while queue and budget:
        budget -= 1
        value = queue.popleft()
        if isinstance(value, list):
            queue.extend(value)
        elif isinstance(value, dict):
            if "@type" in value:
                nodes.append(value)
            queue.extend(
                v for k, v in value.items() if k != "@graph" and isinstance(v, (dict, list))
            )
    return nodes, bad


def node_types(node: dict) -> set[str]:
    """Lower-case schema.org type names: "schema:Organization", ".../LocalBusiness" → bare names."""
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {re.split(r"[/:#]", v)[-1].lower() for v in values if isinstance(v, str) and v}


def organization(nodes: Iterable[dict]) -> dict | None:
    return next((node for node in nodes if node_types(node) & ORG_TYPES), None)


def _text_value(value: Any) -> str | None:
    """A JSON-LD literal as clean text: strings, {"@value": ...}, a list's first usable entry."""
    if isinstance(value, list):
        return next((t for t in map(_text_value, value) if t), None)
    if isinstance(value, dict):
        value = value.get("@value", value.get("name"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    return collapse(value) or None


def postal_address(nodes: list[dict], org: dict | None) -> dict[str, str | None] | None:
    """The organization's PostalAddress (or the page's first one), as the five schema.org fields."""
    candidates: list[Any] = []
    if org is not None:
        address = org.get("address")
        candidates.extend(address if isinstance(address, list) else [address])
    candidates.extend(node for node in nodes if "postaladdress" in node_types(node))
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        address = {name: _text_value(candidate.get(name)) for name in ADDRESS_FIELDS}
        if any(address.values()):
            return address
    return None


# --- meta, name, description, language --------------------------------------------------------


def collapse(text: str) -> str:
    return " ".join(text.split())


def meta_values(tree: LexborHTMLParser) -> dict[str, str]:
    """First content per meta name/property, keys lower-cased ("description", "og:site_name")."""
    found: dict[str, str] = {}
    for meta in tree.css("meta[content]"):
        attrs = meta.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        content = collapse(attrs.get("content") or "")
        if key and content:
            found.setdefault(key.strip().lower(), content)
    return found


_TITLE_SEPARATORS = re.compile(r"\s+[|–—·•»:~/-]{1,2}\s+")
_GENERIC_TITLE_PARTS = frozenset(
    {
        *("home", "homepage", "home page", "start", "startseite", "accueil", "inicio", "index"),
        *("página inicial", "welcome", "willkommen", "official site", "official website"),
    }
)
_WELCOME = re.compile(r"^(?:welcome to|willkommen (?:bei|auf))\s+", re.IGNORECASE)


def clean_title(title: str) -> str | None:
    """A site name from a <title>: generic parts ("Home", "Startseite") dropped, "Welcome to" cut.

    When several parts remain ("Acme Corp – Widgets for everyone"), the shortest one is the name:
    the brand is rarely the longest part of a title. Only spaced separators split, so "Coca-Cola"
    stays whole.
    """
    parts = [collapse(part) for part in _TITLE_SEPARATORS.split(collapse(title))]
    parts = [part for part in parts if part and part.lower() not in _GENERIC_TITLE_PARTS]
    if not parts:
        return None
    name = min(parts, key=len) if len(parts) > 1 else parts[0]
    return _WELCOME.sub("", name) or None


def site_name(
    tree: LexborHTMLParser, org: dict | None, metas: dict[str, str]
) -> tuple[str | None, str | None]:
    """(name, source): JSON-LD organization name, then og:site_name, then the cleaned <title>."""
    if org is not None and (name := _text_value(org.get("name"))):
        return name, "json-ld"
    if name := metas.get("og:site_name"):
        return name, "og:site_name"
    title = tree.css_first("title")
    if title is not None and (name := clean_title(title.text(deep=True))):
        return name, "title"
    return None, None


def site_description(org: dict | None, metas: dict[str, str]) -> tuple[str | None, str | None]:
    """(description, source): JSON-LD, then meta description, then og:description."""
    if org is not None and (text := _text_value(org.get("description"))):
        return text, "json-ld"
    for key in ("description", "og:description"):
        if text := metas.get(key):
            return text, key
    return None, None


def html_lang(tree: LexborHTMLParser) -> str | None:
    html = tree.css_first("html")
    lang = (html.attributes.get("lang") or html.attributes.get("xml:lang")) if html else None
    return (lang.strip() or None) if lang else None


def page_language(tree: LexborHTMLParser, content_language: str | None) -> str | None:
    """The html lang attribute, else the first Content-Language value."""
    if lang := html_lang(tree):
        return lang
    first = (content_language or "").split(",")[0].strip()
    return first or None


_CCTLD_GENERIC = frozenset({"io", "co", "ai", "me", "tv", "ly", "fm", "app", "cc", "to", "ws"})


def _region_of(tag: str | None) -> str | None:
    """The region subtag of a language tag: "en-GB" → "GB", "de_AT" → "AT", "de" → None."""
    for part in re.split(r"[-_]", tag or "")[1:]:
        if len(part) == 2 and part.isalpha():
            region = part.upper()
            return region if region in phonenumbers.SUPPORTED_REGIONS else None
    return None


def country_hint(tree: LexborHTMLParser, url: str) -> str | None:
    """The page's country: html lang region, this page's own hreflang region, then its ccTLD."""
    if region := _region_of(html_lang(tree)):
        return region
    here = url.split("#", 1)[0].rstrip("/")
    for link in tree.css("link[hreflang][href]"):
        try:
            href = urljoin(url, link.attributes.get("href") or "").split("#", 1)[0].rstrip("/")
        except ValueError:  # a bad IPv6 literal
            continue
        if href == here and (region := _region_of(link.attributes.get("hreflang"))):
            return region
    host = (urlsplit(url).hostname or "").rstrip(".")
    tld = host.rsplit(".", 1)[-1].lower()
    if tld.isalpha() and len(tld) == 2 and tld not in _CCTLD_GENERIC:
        region = "GB" if tld == "uk" else tld.upper()
        if region in phonenumbers.SUPPORTED_REGIONS:
            return region
    return None


# --- the page's text and links ----------------------------------------------------------------


HIDDEN_TAGS = ["script", "style", "noscript", "template", "svg"]


def visible_text(tree: LexborHTMLParser, *, in_place: bool = False) -> str:
    """The body's text without scripts, styles, templates and SVG.

    Those are stripped from a copy of the body, or with `in_place` from the tree itself: half the
    cost, for a caller that is done with the tree.
    """
    body = tree.body
    if body is None:
        return ""
    if not in_place:
        body = body.clone()
    body.strip_tags(HIDDEN_TAGS)
    return body.text(separator=" ")


def hrefs(tree: LexborHTMLParser) -> list[str]:
    """Every link target as written (relative links cannot be mailto:, tel: or social profiles)."""
    return [h for a in tree.css("a[href]") if (h := (a.attrs.get("href") or "").strip())]


def listed(value: Any, clean: Callable[[str], str | None]) -> list[str]:
    """Cleaned strings of a JSON-LD value that may be one string or a list of them."""
    values = value if isinstance(value, list) else [value]
    return [c for v in values if isinstance(v, str) and (c := clean(v.strip()))]


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))

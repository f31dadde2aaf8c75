"""Pure extraction helpers for site_profile: a parsed page or its text in, facts out (no I/O).

Structure comes from the selectolax tree (JSON-LD scripts, meta tags, links); regular expressions
only ever run over extracted text (e-mails, phone numbers), and every one of them is bounded so a
hostile page cannot make them backtrack for long.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

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
MAX_AT_SIGNS = 5000  # "x@y"s looked at per page: a hostile page full of them stays cheap

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


# --- e-mail addresses -------------------------------------------------------------------------

_BRACKET_HINT = re.compile(r"[\[({<] ?(?:at|dot|punkt|@|\.) ?[\])}>]", re.IGNORECASE)
_BRACKET_AT = re.compile(r" ?[\[({<] ?(?:at|@) ?[\])}>] ?", re.IGNORECASE)
_BRACKET_DOT = re.compile(r" ?[\[({<] ?(?:dot|punkt|\.) ?[\])}>] ?", re.IGNORECASE)
# "name at example dot com": only with at least one " dot " and an alphabetic last label.
_SPELLED = re.compile(
    r"(?<![\w.+-])([a-z0-9][a-z0-9._%+-]{0,63}) at ([a-z0-9-]{1,63}(?: dot [a-z0-9-]{1,63}){1,4})\b",
    re.IGNORECASE,
)
_SPELLED_STOP = frozenset(
    {"look", "us", "me", "them", "him", "her", "it", "find", "visit", "here", "there", "now"}
)
_AT = re.compile(r"(?<=[a-z0-9._%+-])@(?=[a-z0-9])", re.IGNORECASE)
_LOCAL_REVERSED = re.compile(r"[a-z0-9._%+-]{1,64}", re.IGNORECASE)  # matched right to left
_DOMAIN_HEAD = re.compile(r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}", re.IGNORECASE)
_TLD = re.compile(r"[a-z]{2,24}|xn--[a-z0-9-]{1,59}")
_RETINA = re.compile(r"\d(?:\.\d)?x$")  # logo@2x.png, icon@1.5x.webp
ASSET_EXTENSIONS = frozenset(
    {
        *("png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff"),
        *("css", "js", "mjs", "map", "json", "woff", "woff2", "ttf", "otf", "eot"),
        *("mp4", "webm", "mp3", "wav", "ogg", "php", "html", "htm", "aspx"),
    }
)
TRACKING_DOMAINS = ("sentry.io", "wixpress.com")  # and their subdomains: error-tracker DSNs
_HEX_KEY = re.compile(r"[0-9a-f]{32}")


def deobfuscate(text: str) -> str:
    """Undo the simple obfuscations: "[at]", "(at)", "{dot}" and "name at example dot com"."""
    text = collapse(text)  # also keeps the patterns below from backtracking on whitespace
    # Each substitution only when its cheap hint is present: most pages have none of them.
    if _BRACKET_HINT.search(text):
        text = _BRACKET_DOT.sub(".", _BRACKET_AT.sub("@", text))
    if " dot " in text.lower():
        text = _SPELLED.sub(_unspell, text)
    return text


def _unspell(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    if local.lower() in _SPELLED_STOP:
        return match.group(0)
    return f"{local}@{re.sub(r' dot ', '.', domain, flags=re.IGNORECASE)}"


def clean_email(address: str) -> str | None:
    """A lower-cased address, or None for asset names, tracking addresses and malformed ones."""
    address = address.strip().strip(".").lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or len(address) > 254:
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local or ".." in domain:
        return None
    labels = domain.split(".")
    if len(labels) < 2 or any(not label or label[0] == "-" or label[-1] == "-" for label in labels):
        return None
    if not _TLD.fullmatch(labels[-1]) or labels[-1] in ASSET_EXTENSIONS:
        return None
    if _RETINA.search(local) or re.match(r"\d(?:\.\d)?x\.", domain):
        return None
    if any(domain == d or domain.endswith("." + d) for d in TRACKING_DOMAINS):
        return None
    if _HEX_KEY.fullmatch(local):  # error-tracker DSN keys
        return None
    return address


def emails_in_text(text: str) -> list[str]:
    """E-mail addresses in visible text, obfuscations undone, in order of first appearance."""
    text = deobfuscate(text)
    found: list[str] = []
    # Anchored at each plausible "@" (never a scan of the whole text per position): linear.
    for _, match in zip(range(MAX_AT_SIGNS), _AT.finditer(text), strict=False):
        at = match.start()
        local = _LOCAL_REVERSED.match(text[max(0, at - 64) : at][::-1])
        domain = _DOMAIN_HEAD.match(text, at + 1, at + 256)
        if local and domain and (email := clean_email(f"{local.group()[::-1]}@{domain.group()}")):
            found.append(email)
    return unique(found)


def emails_in_mailto(href: str) -> list[str]:
    """Addresses of a mailto: link ("mailto:a@x.com,b@x.com?subject=…")."""
    target = href.strip()[len("mailto:") :].split("?", 1)[0]
    return unique(e for part in unquote(target).split(",") if (e := clean_email(part)))


# --- phone numbers ----------------------------------------------------------------------------

_PHONE_LABEL = re.compile(
    r"(?P<fax>\b(?:tele)?fax\b)|(?P<tel>\b(?:tel(?:efon|ephone|éfono|efone)?|phone|fon|"
    r"mobile?|mobil|cell|call(?: us)?|hotline|whatsapp)\b|\b[tp] ?:|☎|📞|✆)",
    re.IGNORECASE,
)
_PHONE_RUN = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d[\d ().\-/]{4,24}\d(?![\w])")
_LABEL_WINDOW = 24
_LISTED_GAP = 8
_E164 = phonenumbers.PhoneNumberFormat.E164
_CCTLD_GENERIC = frozenset({"io", "co", "ai", "me", "tv", "ly", "fm", "app", "cc", "to", "ws"})


def normalize_phone(raw: str, region: str) -> str | None:
    """E.164 for a valid number (national formats read in `region`), else None."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, _E164)


def phones_in_text(text: str, region: str) -> list[str]:
    """Numbers in obvious phone contexts: after a phone label ("Tel.:", "Phone", "☎"), or written
    internationally ("+49 …"); never after a fax label. Invalid numbers are dropped."""
    text = collapse(text)
    found: list[str] = []
    last_end = -_LABEL_WINDOW
    for run in _PHONE_RUN.finditer(text):
        window = text[max(0, run.start() - _LABEL_WINDOW) : run.start()]
        label = next(reversed(list(_PHONE_LABEL.finditer(window))), None)
        if label is not None and label.group("fax"):
            continue
        # "Tel. 030 123456 or 030 654321": a number right after a phone number is one too.
        listed = run.start() - last_end <= _LISTED_GAP
        if label is None and not listed and not run.group().startswith("+"):
            continue
        if number := normalize_phone(run.group(), region):
            numbers = [number]
        else:  # a run can hold two numbers: let phonenumbers split it
            matches = phonenumbers.PhoneNumberMatcher(run.group(), region)
            numbers = [phonenumbers.format_number(m.number, _E164) for m in matches]
        if numbers:
            found.extend(numbers)
            last_end = run.end()
    return unique(found)


def phone_in_tel(href: str, region: str) -> str | None:
    target = href.strip().split(":", 1)[-1].split(";", 1)[0]
    return normalize_phone(unquote(target), region)


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


def visible_text(tree: LexborHTMLParser) -> str:
    """The body's text without scripts, styles and templates (on a copy: the tree is not changed)."""
    body = tree.body
    if body is None:
        return ""
    copy = body.clone()
    copy.strip_tags(["script", "style", "noscript", "template", "svg"])
    return copy.text(separator=" ")


def hrefs(tree: LexborHTMLParser) -> list[str]:
    """Every link target as written (relative links cannot be mailto:, tel: or social profiles)."""
    return [h for a in tree.css("a[href]") if (h := (a.attributes.get("href") or "").strip())]


def listed(value: Any, clean: Callable[[str], str | None]) -> list[str]:
    """Cleaned strings of a JSON-LD value that may be one string or a list of them."""
    values = value if isinstance(value, list) else [value]
    return [c for v in values if isinstance(v, str) and (c := clean(v.strip()))]


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))

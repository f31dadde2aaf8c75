"""HTML pages and robots.txt for the processors that read pages (page_audit, site_profile).

`get_page` fetches a URL through the job's fetcher and gives back the decoded text and one parsed tree;
`robots_for` gives the host's robots.txt, fetched once per host per job (cached in ``ctx.cache``).

    page = await get_page(ctx, item.url)            # HTTP_ERROR / NOT_HTML raised here
    title = page.tree.css_first("title")
    robots = await robots_for(ctx, page.final_url)
    robots.allows(page.final_url, user_agent_token(ctx))

The tree is selectolax's Lexbor parser (`LexborHTMLParser`): a spec-conformant HTML5 parser (it
parses malformed markup the way browsers do, never raises on garbage) and faster than the older
Modest backend. Decoding follows the HTML standard's order: BOM, the Content-Type charset, a
``<meta charset>`` / ``http-equiv`` in the first 2 KB, then detection (charset-normalizer), then UTF-8
with replacement characters. As browsers do, ISO-8859-1, Latin-1 and US-ASCII labels decode as
Windows-1252 (a superset where the two differ only in bytes 0x80–0x9F, which Latin-1 pages use
for curly quotes and the euro sign by mistake).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from protego import Protego
from selectolax.lexbor import LexborHTMLParser
from yarl import URL

from jobs.fetch import FetchResult, parse_retry_after
from jobs.processors.base import Context, ErrorCode, ItemError

__all__ = [
    "HTML_TYPES",
    "Page",
    "Robots",
    "declared_encoding",
    "decode_html",
    "get_page",
    "http_error",
    "parse_html",
    "robots_for",
    "user_agent_token",
]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
META_PRESCAN_BYTES = 2048
BINARY_SNIFF_BYTES = 1024
DETECT_CHAOS_SLACK = 0.1
ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB of a robots.txt

# WHATWG Encoding: these labels mean windows-1252; a meta that claims UTF-16 means UTF-8 (a page
# whose bytes were ASCII-compatible enough to carry the meta cannot be UTF-16).
_LABEL_ALIASES = {"iso8859_1": "cp1252", "latin_1": "cp1252", "ascii": "cp1252", "utf_16": "utf-8"}
# Browsers refuse UTF-7 (a known XSS vector) and Python-only codecs: fall through to detection.
_UNSUPPORTED = frozenset({"utf_7", "idna", "punycode", "raw_unicode_escape", "unicode_escape"})
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(slots=True)
class Page:
    url: str  # as requested
    final_url: str  # after redirects
    response: FetchResult
    encoding: str  # the Python codec used, e.g. "utf-8", "cp1252"
    tree: LexborHTMLParser
    decoded: str | None = None  # the text, once decoded (see `text`)

    @property
    def text(self) -> str:
        """The decoded HTML, decoded on first use: the extractors read the tree, and a UTF-8 tree
        is parsed from the bytes, so most pages never need a 100 KB str of their HTML."""
        if self.decoded is None:
            self.decoded = _decode(self.response.body, self.encoding)
        return self.decoded


# --- decoding --------------------------------------------------------------------------------


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label (browser aliases applied), or None when unusable."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'").lower())
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # a bytes-to-bytes codec a hostile page may name (base64, zlib, rot13…)
    name = info.name
    key = name.replace("-", "_")
    if key.startswith(("utf_16", "utf_32")):
        key = "utf_16"
    if key in _UNSUPPORTED:
        return None
    return _LABEL_ALIASES.get(key, name)


def _meta_charset(head: bytes) -> str | None:
    """The charset a <meta> in the first bytes declares (parsed, not pattern-matched)."""
    if b"<meta" not in head.lower():
        return None
    tree = LexborHTMLParser(head.decode("latin-1"))  # lossless for the ASCII a meta is made of
    for meta in tree.css("meta"):
        attrs = meta.attributes
        if attrs.get("charset"):
            return attrs["charset"]
        if (attrs.get("http-equiv") or "").strip().lower() == "content-type":
            _, _, params = (attrs.get("content") or "").partition(";")
            for param in params.split(";"):
                key, _, value = param.partition("=")
                if key.strip().lower() == "charset" and value.strip():
                    return value
    return None


def declared_encoding(body: bytes, header_charset: str | None) -> str | None:
    """The codec a BOM, the Content-Type charset or a ``<meta>`` names (None: undeclared)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return _codec(header_charset) or _codec(_meta_charset(body[:META_PRESCAN_BYTES]))


def _decode(body: bytes, name: str) -> str:
    for bom, bom_name in _BOMS:
        if bom_name == name and body.startswith(bom):
            return body[len(bom) :].decode(name, "replace")
    return body.decode(name, "replace")


def decode_html(body: bytes, header_charset: str | None) -> tuple[str, str]:
    """(text, codec) for an HTML body: BOM, header charset, meta, detection, else UTF-8."""
    name = declared_encoding(body, header_charset)
    if name is None:
        try:
            return body.decode("utf-8"), "utf-8"  # ASCII and valid UTF-8: the common case
        except UnicodeDecodeError:
            name = _detect(body)
    return _decode(body, name), name


def _detect(body: bytes) -> str:
    """charset-normalizer's guess, preferring Windows-1252 when it fits about as well.

    Short Western European texts are ambiguous between single-byte code pages (French often comes
    out as cp1257); browsers fall back to Windows-1252, so a close windows-1252 reading wins.
    """
    matches = list(from_bytes(body))
    if not matches:
        return "utf-8"
    best = matches[0]
    for match in matches:
        if (
            match.chaos <= best.chaos + DETECT_CHAOS_SLACK
            and "cp1252" in match.could_be_from_charset
        ):
            return "cp1252"
    return _codec(best.encoding) or "utf-8"


def parse_html(text: str) -> LexborHTMLParser:
    return LexborHTMLParser(text)


def _looks_binary(body: bytes) -> bool:
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False  # UTF-16 text is full of NULs
    return b"\x00" in body[:BINARY_SNIFF_BYTES]


def _check_html(response: FetchResult) -> None:
    content_type = response.content_type
    body = response.body
    if content_type and content_type not in HTML_TYPES:
        raise ItemError(ErrorCode.NOT_HTML, f"not an HTML page (Content-Type: {content_type})")
    if _looks_binary(body):
        shown = content_type or "none"
        raise ItemError(
            ErrorCode.NOT_HTML, f"binary content served as HTML (Content-Type: {shown})"
        )
    if not content_type and not body.lstrip()[:1] == b"<":
        raise ItemError(ErrorCode.NOT_HTML, "no Content-Type and the body does not look like HTML")


# lexbor's parse time grows with the square of nesting depth (20,000 nested <div>s: ~1 s, a 1 MB
# page of them: minutes), and a parse cannot be interrupted: the whole runner would stall. Pages
# with few tags cannot nest deeply, so only tag-heavy pages pay for the depth estimate.
MAX_DEPTH = 5000
_DEPTH_CHECK_TAGS = 20_000
_TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9]{0,9})[\s/>]")
_VOID = frozenset(
    b"area base br col embed hr img input link meta source track wbr p li dt dd option tr td th"
    b" rb rt rp".split()
)


def nesting_depth(body: bytes) -> int:
    """An upper estimate of how deep the page nests its elements."""
    depth = deepest = 0
    for match in _TAG.finditer(body):
        name = match.group(2).lower()
        if name in _VOID:
            continue
        if match.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _check_nesting(body: bytes) -> None:
    if body.count(b"<") < _DEPTH_CHECK_TAGS:
        return
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        raise ItemError(
            ErrorCode.PROCESSOR_ERROR,
            f"elements nested about {depth:,} deep (at most {MAX_DEPTH:,} are parsed)",
        )


def http_error(response: FetchResult) -> ItemError:
    """HTTP_ERROR for a non-2xx final response; 429 and 5xx are retryable (Retry-After honoured)."""
    retryable = response.status in RETRY_STATUSES
    return ItemError(
        ErrorCode.HTTP_ERROR,
        f"HTTP {response.status} {response.reason}".strip(),
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("Retry-After")) if retryable else None,
        http_status=response.status,
    )


async def get_page(
    ctx: Context, url: str, *, require_ok: bool = True, headers: dict | None = None
) -> Page:
    """Fetch and parse an HTML page. Raises HTTP_ERROR (non-2xx, when `require_ok`) and NOT_HTML."""
    response = await ctx.fetch(url, headers=headers) if headers else await ctx.fetch(url)
    if require_ok and not 200 <= response.status < 300:
        raise http_error(response)
    _check_html(response)
    _check_nesting(response.body)
    body = response.body
    text, encoding = None, declared_encoding(body, response.charset)
    if encoding is None:  # undeclared: decoding is how UTF-8 is told from the rest
        text, encoding = decode_html(body, None)
    if encoding == "utf-8":
        # lexbor parses UTF-8 bytes as they come (BOM skipped, bad bytes → U+FFFD, no sniffing
        # of its own); handing it a str would only re-encode it first.
        tree = LexborHTMLParser(body)
    else:
        text = text if text is not None else _decode(body, encoding)
        tree = LexborHTMLParser(text)
    return Page(url, response.final_url, response, encoding, tree, text)


# --- robots.txt ------------------------------------------------------------------------------

_PRODUCT = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.+-]*)/[^\s;()]*")
_BROWSER_TOKENS = frozenset(
    {"mozilla", "applewebkit", "chrome", "safari", "gecko", "firefox", "version", "mobile"}
)


@functools.lru_cache(maxsize=64)
def _token(user_agent: str) -> str:
    products = _PRODUCT.findall(user_agent)
    for product in products:
        if product.lower() not in _BROWSER_TOKENS:
            return product
    if products:
        return products[0]
    return user_agent.split()[0] if user_agent.split() else "*"


def user_agent_token(ctx_or_user_agent: Context | str) -> str:
    """The product token robots.txt groups are matched against.

    "batchsite/0.1 (+https://…)" → "batchsite"; a browser-like UA that carries the product
    ("Mozilla/5.0 (…) Mobile Safari/537.36 (compatible; batchsite/0.1)") gives the same token.
    """
    if isinstance(ctx_or_user_agent, str):
        return _token(ctx_or_user_agent)
    return _token(ctx_or_user_agent.fetcher.user_agent)


class Robots:
    """The robots.txt of one scheme+host. Missing (4xx) or unavailable (5xx, unreachable) allows all."""

    __slots__ = ("_parser", "status", "unavailable", "url")

    def __init__(
        self, url: str, status: int | None, text: str | None, *, unavailable: bool = False
    ) -> None:
        self.url = url
        self.status = status
        self.unavailable = unavailable
        self._parser = Protego.parse(text) if text else None

    def allows(self, url: str, user_agent: str) -> bool:
        if self._parser is None:
            return True
        return self._parser.can_fetch(url, user_agent)

    def __repr__(self) -> str:
        return f"Robots({self.url!r}, status={self.status}, unavailable={self.unavailable})"


def _robots_url(url: str) -> str:
    origin = URL(url).origin()
    return str(origin.with_path("/robots.txt"))


async def _fetch_robots(ctx: Context, robots_url: str) -> Robots:
    try:
        response = await ctx.fetch(robots_url, max_bytes=ROBOTS_MAX_BYTES)
    except ItemError as exc:
        if exc.code == ErrorCode.CANCELLED:
            raise
        ctx.log(f"robots.txt unavailable at {robots_url}: {exc.code}: {exc.message}")
        return Robots(robots_url, None, None, unavailable=True)
    status = response.status
    if 200 <= status < 300:
        return Robots(robots_url, status, response.body.decode("utf-8", "replace"))
    if status == 429 or status >= 500:
        ctx.log(f"robots.txt unavailable at {robots_url}: HTTP {status}; allowing all")
        return Robots(robots_url, status, None, unavailable=True)
    return Robots(robots_url, status, None)  # 4xx (and anything else): no rules


async def robots_for(ctx: Context, url: str) -> Robots:
    """The robots.txt governing `url`, fetched once per scheme+host per job."""
    robots_url = _robots_url(url)
    key = f"robots:{robots_url}"
    found = ctx.cache.get(key)
    if found is not None:
        return found
    # One lock per host: concurrent items of the job wait for the first one's fetch.
    locks: dict[str, asyncio.Lock] = ctx.cache.setdefault("robots:locks", {})
    lock = locks.setdefault(key, asyncio.Lock())
    async with lock:
        found = ctx.cache.get(key)
        if found is None:
            found = ctx.cache[key] = await _fetch_robots(ctx, robots_url)
    return found

"""page_audit: speed, SEO and indexability of one HTML page, scored 0–100.

Option ``strategy``: ``mobile`` (default) fetches with a smartphone User-Agent and expects a viewport
meta with ``width=device-width``; ``desktop`` fetches with a desktop User-Agent and does not penalise
a missing viewport. Both User-Agents carry the configured product token (BATCHSITE_USER_AGENT), and
robots.txt is matched against that token. A final response that is not 2xx fails the item with
HTTP_ERROR (429/5xx retried); a response that is not HTML fails it with NOT_HTML.

Result (flat JSON):

=========================  ================================================================
``status_code``            final HTTP status
``final_url``              URL after redirects
``strategy``               ``mobile`` | ``desktop``
``encoding``               codec the HTML was decoded with (``utf-8``, ``cp1252``…)
``title``                  ``{text, length}`` — first ``<title>``, whitespace collapsed; text null
                           when there is none
``meta_description``       ``{text, length}`` — ``<meta name="description">``
``h1``                     list of the ``<h1>`` texts
``canonical``              ``{url, points_elsewhere}`` — ``<link rel=canonical>`` made absolute;
                           elsewhere = not the final URL (fragment ignored)
``robots_meta``            content of ``<meta name="robots">`` and of a meta named after our
                           product token, joined with ", " (null when none)
``x_robots_tag``           the X-Robots-Tag header values joined with ", " (null when none)
``robots_txt``             ``{allowed, url, unavailable}`` — the robots.txt verdict for our
                           product token (a missing robots.txt allows all; one that answers 5xx
                           or cannot be reached allows all with ``unavailable`` true)
``indexable``              bool; ``indexability_reasons`` lists why not (empty when indexable)
``lang``                   ``<html lang>`` or null
``hreflang``               list of ``{lang, href}`` from ``<link rel=alternate hreflang>``
``word_count``             words of visible body text (script/style/noscript/template excluded):
                           whitespace-separated tokens with a letter or digit, element
                           boundaries separating words
``links``                  ``{internal, external, nofollow}`` — ``<a href>`` to http(s) pages;
                           internal = same host (a leading "www." ignored); fragment-only,
                           mailto:, tel:, javascript: links are not counted
``images``                 ``{total, missing_alt}`` — missing = no alt attribute (alt="" is fine)
``page_weight``            ``{html_bytes, transfer_bytes, content_encoding, compressed}`` —
                           decoded vs on-the-wire body bytes
``cache``                  ``{cache_control, etag, last_modified, expires}`` (header values)
``viewport``               ``<meta name="viewport">`` content or null
``timings``                ``{ttfb, total}`` in ms, from the fetch
``structured_data_types``  sorted JSON-LD ``@type``s (top-level items, ``@graph`` members, lists)
``score``                  0–100: 100 minus the points of every reason in ``score_reasons``
``score_reasons``          list of ``{code, reason, points}``, points as deducted (positive)
=========================  ================================================================
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag, urlsplit

from django import forms

from jobs.processors.audit_facts import NOINDEX, directives, header_noindex, read_facts
from jobs.processors.base import Context, Item, Processor
from jobs.processors.pages import Page, get_page, robots_for, user_agent_token

# Points deducted from 100, one table. Scaled entries give (points per unit, cap).
WEIGHTS: dict[str, int | tuple[int, int]] = {
    "missing_title": 15,
    "title_too_short": 5,
    "title_too_long": 5,
    "missing_meta_description": 10,
    "meta_description_too_short": 3,
    "meta_description_too_long": 3,
    "missing_h1": 10,
    "multiple_h1": 3,
    "noindex": 30,  # any source: robots meta, X-Robots-Tag, robots.txt
    "canonical_elsewhere": 5,
    "missing_viewport": 10,  # mobile strategy only
    "images_missing_alt": (2, 10),  # 2 per image, at most 10
    "not_compressed": 5,
    "no_cache_headers": 3,
    "slow_ttfb": 5,
    "very_slow_ttfb": 10,
    "heavy_page": 5,
    "missing_lang": 3,
    "no_structured_data": 2,
}
TITLE_LENGTH = (10, 60)
DESCRIPTION_LENGTH = (50, 160)
SLOW_TTFB_MS, VERY_SLOW_TTFB_MS = 800, 1800
HEAVY_PAGE_BYTES = 1024 * 1024
COMPRESSIBLE_BYTES = 1024  # smaller pages gain nothing from compression
COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})
# Browser-like User-Agents per strategy; the product token stays in them (robots, server logs).
_STRATEGY_UA = {
    "mobile": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36 (compatible; {ua})",
    "desktop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36 (compatible; {ua})",
}


class PageAuditOptions(forms.Form):
    strategy = forms.ChoiceField(
        choices=[("mobile", "Mobile"), ("desktop", "Desktop")],
        initial="mobile",
        required=False,
        help_text="Mobile fetches as a smartphone and requires a device-width viewport.",
    )

    def clean_strategy(self) -> str:
        return self.cleaned_data.get("strategy") or "mobile"


class PageAudit(Processor):
    name = "page_audit"
    label = "Page audit"
    description = (
        "Audits each HTML page for speed, SEO and indexability: title, meta description, headings, "
        "canonical, robots (meta, header, robots.txt), language, links, images, page weight, "
        "compression, cache headers, viewport, structured data; scored 0–100 with the reasons."
    )
    steps = ("fetch", "parse", "robots", "score")
    options_form = PageAuditOptions

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        strategy = self.options.get("strategy") or "mobile"
        await ctx.step("fetch")
        user_agent = _STRATEGY_UA[strategy].format(ua=ctx.fetcher.user_agent)
        page = await get_page(ctx, item.url, headers={"User-Agent": user_agent})
        await ctx.step("parse")
        token = user_agent_token(ctx)
        result = audit_page(page, token)
        result["strategy"] = strategy
        await ctx.step("robots")
        robots = await robots_for(ctx, page.final_url)
        allowed = robots.allows(page.final_url, token)
        result["robots_txt"] = {
            "allowed": allowed,
            "url": robots.url,
            "unavailable": robots.unavailable,  # 5xx or unreachable: allowed, but unverified
        }
        if not allowed:
            result["indexability_reasons"].append("disallowed by robots.txt")
        result["indexable"] = not result["indexability_reasons"]
        await ctx.step("score")
        result["score"], result["score_reasons"] = score(result, strategy)
        return result


# --- facts ---------------------------------------------------------------------------------


def _same_url(a: str, b: str) -> bool:
    """Whether two absolute URLs name the same page (fragment, host case and empty path ignored)."""
    a, b = urldefrag(a).url, urldefrag(b).url
    if a == b:
        return True
    sa, sb = urlsplit(a), urlsplit(b)
    return (sa.scheme.lower(), sa.netloc.lower(), sa.path or "/", sa.query) == (
        sb.scheme.lower(),
        sb.netloc.lower(),
        sb.path or "/",
        sb.query,
    )


def _text_field(text: str | None) -> dict[str, Any]:
    return {"text": text, "length": len(text) if text else 0}


def audit_page(page: Page, token: str) -> dict[str, Any]:
    """Every fact of the audit that needs no further request (robots.txt is added by the caller)."""
    response = page.response
    facts = read_facts(page.tree, page.final_url, token)
    headers = response.headers
    x_robots = [v.strip() for v in headers.getall("X-Robots-Tag", ()) if v.strip()]
    reasons = []
    if any(directives(value) & NOINDEX for value in facts.robots):
        reasons.append("noindex in robots meta")
    if header_noindex(x_robots, token):
        reasons.append("noindex in X-Robots-Tag header")
    elsewhere = facts.canonical is not None and not _same_url(facts.canonical, page.final_url)
    if elsewhere:
        reasons.append("canonical points elsewhere")
    encoding = response.content_encoding or None
    return {
        "status_code": response.status,
        "final_url": page.final_url,
        "encoding": page.encoding,
        "title": _text_field(facts.title),
        "meta_description": _text_field(facts.description),
        "h1": facts.h1,
        "canonical": {"url": facts.canonical, "points_elsewhere": elsewhere},
        "robots_meta": ", ".join(facts.robots) or None,
        "x_robots_tag": ", ".join(x_robots) or None,
        "robots_txt": None,  # filled by the robots step
        "indexable": not reasons,
        "indexability_reasons": reasons,
        "lang": facts.lang,
        "hreflang": facts.hreflang,
        "word_count": facts.word_count,
        "links": facts.links,
        "images": facts.images,
        "page_weight": {
            "html_bytes": response.bytes_body,
            "transfer_bytes": response.bytes_wire,
            "content_encoding": encoding,
            "compressed": encoding in COMPRESSED_ENCODINGS,
        },
        "cache": {
            "cache_control": headers.get("Cache-Control"),
            "etag": headers.get("ETag"),
            "last_modified": headers.get("Last-Modified"),
            "expires": headers.get("Expires"),
        },
        "viewport": facts.viewport,
        "timings": {
            "ttfb": round(response.timings.get("ttfb", 0.0), 1),
            "total": round(response.timings.get("total", 0.0), 1),
        },
        "structured_data_types": facts.ld_types,
    }


# --- score -----------------------------------------------------------------------------------


def _length_issue(length: int, bounds: tuple[int, int], short: str, long: str) -> str | None:
    if length < bounds[0]:
        return short
    if length > bounds[1]:
        return long
    return None


Issue = tuple[str, str, int]  # (code in WEIGHTS, reason, units)


def _issues(result: dict[str, Any], strategy: str) -> list[Issue]:
    """(code, reason, units) for everything that lowers the score, in a stable order."""
    return _content_issues(result, strategy) + _delivery_issues(result)


def _content_issues(result: dict[str, Any], strategy: str) -> list[Issue]:
    issues: list[Issue] = []

    def add(code: str, reason: str, units: int = 1) -> None:
        issues.append((code, reason, units))

    title = result["title"]
    if not title["text"]:
        add("missing_title", "No <title>")
    elif code := _length_issue(title["length"], TITLE_LENGTH, "title_too_short", "title_too_long"):
        add(
            code,
            f"Title is {title['length']} characters (aim for {TITLE_LENGTH[0]}–{TITLE_LENGTH[1]})",
        )
    description = result["meta_description"]
    if not description["text"]:
        add("missing_meta_description", "No meta description")
    elif code := _length_issue(
        description["length"],
        DESCRIPTION_LENGTH,
        "meta_description_too_short",
        "meta_description_too_long",
    ):
        add(
            code,
            f"Meta description is {description['length']} characters "
            f"(aim for {DESCRIPTION_LENGTH[0]}–{DESCRIPTION_LENGTH[1]})",
        )
    h1 = result["h1"]
    if not h1:
        add("missing_h1", "No <h1>")
    elif len(h1) > 1:
        add("multiple_h1", f"{len(h1)} <h1> elements")
    noindex = [r for r in result["indexability_reasons"] if r != "canonical points elsewhere"]
    if noindex:
        add("noindex", "Not indexable: " + "; ".join(noindex))
    if result["canonical"]["points_elsewhere"]:
        add("canonical_elsewhere", f"Canonical points elsewhere ({result['canonical']['url']})")
    viewport = (result["viewport"] or "").replace(" ", "").lower()
    if strategy == "mobile" and "width=device-width" not in viewport:
        add("missing_viewport", "No viewport meta with width=device-width (mobile)")
    missing_alt = result["images"]["missing_alt"]
    if missing_alt:
        add("images_missing_alt", f"{missing_alt} image(s) without alt text", missing_alt)
    return issues


def _delivery_issues(result: dict[str, Any]) -> list[Issue]:
    issues: list[Issue] = []

    def add(code: str, reason: str) -> None:
        issues.append((code, reason, 1))

    weight = result["page_weight"]
    if not weight["compressed"] and weight["html_bytes"] >= COMPRESSIBLE_BYTES:
        add("not_compressed", "HTML is not compressed (gzip, br…)")
    if not any(result["cache"].values()):
        add("no_cache_headers", "No cache headers (Cache-Control, ETag, Last-Modified, Expires)")
    ttfb = result["timings"]["ttfb"]
    if ttfb > VERY_SLOW_TTFB_MS:
        add("very_slow_ttfb", f"Time to first byte {ttfb:.0f} ms (> {VERY_SLOW_TTFB_MS} ms)")
    elif ttfb > SLOW_TTFB_MS:
        add("slow_ttfb", f"Time to first byte {ttfb:.0f} ms (> {SLOW_TTFB_MS} ms)")
    if weight["html_bytes"] > HEAVY_PAGE_BYTES:
        add("heavy_page", f"HTML is {weight['html_bytes'] // 1024} KB (> 1 MB)")
    if not result["lang"]:
        add("missing_lang", "No lang attribute on <html>")
    if not result["structured_data_types"]:
        add("no_structured_data", "No structured data (JSON-LD)")
    return issues


def score(result: dict[str, Any], strategy: str) -> tuple[int, list[dict[str, Any]]]:
    """(score, reasons): 100 minus the WEIGHTS of every issue found, never below 0."""
    reasons = []
    for code, reason, units in _issues(result, strategy):
        weight = WEIGHTS[code]
        if isinstance(weight, tuple):
            per_unit, cap = weight
            points = min(cap, per_unit * units)
        else:
            points = weight
        reasons.append({"code": code, "reason": reason, "points": points})
    return max(0, 100 - sum(r["points"] for r in reasons)), reasons

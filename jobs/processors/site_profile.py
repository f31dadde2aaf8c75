"""site_profile: company facts from a homepage and, when it links one, its contact/about page.

Name, description, e-mails, phone numbers (E.164), social profiles, postal address and language,
read by `profile_extract` from each page's tree. The extra page must be on the same site (the same
host or its www. variant) and allowed by robots.txt; when it fails, the item still succeeds and the
failure is noted under ``pages``. A homepage that does not answer 2xx fails the item (HTTP_ERROR).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django import forms
from selectolax.lexbor import LexborHTMLParser

from jobs.processors.base import Context, ErrorCode, Item, ItemError, Processor
from jobs.processors.contact_link import contact_link, same_site
from jobs.processors.contacts import (
    Contacts,
    clean_email,
    emails_in_mailto,
    normalize_phone,
    phone_in_tel,
)
from jobs.processors.pages import Page, get_page, robots_for, user_agent_token
from jobs.processors.profile_extract import (
    country_hint,
    hrefs,
    json_ld_nodes,
    listed,
    meta_values,
    organization,
    page_language,
    postal_address,
    site_description,
    site_name,
    unique,
    visible_text,
)
from jobs.processors.social import SOCIAL_NETWORKS, social_profiles

# Name sources, best first: a page's JSON-LD Organization beats the homepage's <title>.
NAME_SOURCES = ("json-ld", "og:site_name", "title")


class SiteProfileOptions(forms.Form):
    default_region = forms.CharField(
        max_length=2,
        required=False,
        initial="US",
        help_text=(
            "Country (ISO 3166 code) for phone numbers written without a country code, when the "
            "page's language, hreflang and domain give none."
        ),
    )

    def clean_default_region(self) -> str:
        region = (self.cleaned_data.get("default_region") or "US").strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise forms.ValidationError(f"{region!r} is not an ISO 3166 country code.")
        return region


class SiteProfile(Processor):
    name = "site_profile"
    label = "Site profile"
    description = (
        "Reads company facts from the homepage and its contact/about page: name, description, "
        "e-mail addresses, phone numbers, social profiles, postal address and language."
    )
    steps = ("homepage", "contact_page", "extract")
    options_form = SiteProfileOptions

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        await ctx.step("homepage")
        home = await get_page(ctx, item.url)  # HTTP_ERROR / NOT_HTML fail the item
        pages = [_visited(home, "homepage")]
        robots_skipped: list[str] = []
        await ctx.step("contact_page")
        contact = None
        contact_url = contact_link(home.tree, home.final_url)
        if contact_url is not None:
            contact = await _contact_page(ctx, contact_url, home, pages, robots_skipped)
        await ctx.step("extract")
        region = self.options.get("default_region") or "US"
        found = [_extract(ctx, page, region) for page in (home, contact) if page is not None]
        return {
            "status_code": home.response.status,
            "final_url": home.final_url,
            **merge(found),
            "contact_page": contact_url,
            "pages": pages,
            "robots_skipped": robots_skipped,
        }


def _visited(page: Page, role: str) -> dict[str, Any]:
    return {
        "role": role,
        "url": page.url,
        "final_url": page.final_url,
        "status": page.response.status,
    }


async def _contact_page(
    ctx: Context, url: str, home: Page, pages: list[dict], robots_skipped: list[str]
) -> Page | None:
    """The contact/about page, or None (noted in `pages` or `robots_skipped`) when unusable."""
    robots = await robots_for(ctx, url)
    if not robots.allows(url, user_agent_token(ctx)):
        ctx.log(f"robots.txt disallows {url}; contact page skipped")
        robots_skipped.append(url)
        return None
    try:
        page = await get_page(ctx, url)  # a non-2xx page raises HTTP_ERROR with its status
    except ItemError as exc:
        if exc.code == ErrorCode.CANCELLED:
            raise
        ctx.log(f"Contact page {url} failed: {exc.code}: {exc.message}", logging.WARNING)
        entry = {"role": "contact", "url": url, "final_url": None, "status": exc.http_status}
        pages.append({**entry, "error": f"{exc.code}: {exc.message}"})
        return None
    entry = _visited(page, "contact")
    pages.append(entry)
    if not same_site(page.final_url, home.final_url):
        entry["error"] = "redirected off the site"
        return None
    return page


def _extract(ctx: Context, page: Page, default_region: str) -> PageFacts:
    facts = extract_page(
        page.tree,
        page.final_url,
        content_language=page.response.headers.get("Content-Language"),
        default_region=default_region,
    )
    if facts.bad_json_ld:
        ctx.log(f"{page.final_url}: {facts.bad_json_ld} JSON-LD block(s) are not valid JSON")
    return facts


# --- one page ---------------------------------------------------------------------------------


@dataclass
class PageFacts:
    name: str | None = None
    name_source: str | None = None
    description: str | None = None
    description_source: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    social: dict[str, str] = field(default_factory=dict)
    address: dict[str, str | None] | None = None
    language: str | None = None
    region: str = "US"
    bad_json_ld: int = 0


def extract_page(
    tree: LexborHTMLParser, url: str, *, content_language: str | None, default_region: str
) -> PageFacts:
    """Everything site_profile reads from one page.

    Consumes the tree: the hidden elements (scripts, styles, templates, SVG) are stripped from it
    last, to read the visible text without copying the page first.
    """
    nodes, bad = json_ld_nodes(tree)
    org = organization(nodes)
    metas = meta_values(tree)
    facts = PageFacts(bad_json_ld=bad)
    facts.name, facts.name_source = site_name(tree, org, metas)
    facts.description, facts.description_source = site_description(org, metas)
    facts.address = postal_address(nodes, org)
    facts.language = page_language(tree, content_language)
    facts.region = region = country_hint(tree, url) or default_region
    targets = hrefs(tree)
    emails, phones = [], []
    for href in targets:
        lowered = href[:7].lower()
        if lowered.startswith("mailto:"):
            emails.extend(emails_in_mailto(href))
        elif lowered.startswith(("tel:", "callto:")) and (number := phone_in_tel(href, region)):
            phones.append(number)
    if org is not None:
        emails.extend(listed(org.get("email"), lambda v: clean_email(v.removeprefix("mailto:"))))
        phones.extend(listed(org.get("telephone"), lambda v: normalize_phone(v, region)))
    same_as = listed(org.get("sameAs"), str) if org is not None else []
    facts.social = social_profiles([*same_as, *targets])  # the site's own sameAs list first
    text = Contacts(visible_text(tree, in_place=True))  # last: it strips the hidden elements
    facts.emails = unique([*emails, *text.emails()])
    facts.phones = unique([*phones, *text.phones(region)])
    return facts


def merge(found: list[PageFacts]) -> dict[str, Any]:
    """One profile from the homepage's facts (first) and the contact page's.

    Lists are unions in page order; single facts come from the homepage unless it has none, except
    the name, which comes from the best source on either page (JSON-LD, og:site_name, <title>).
    """
    named = [facts for facts in found if facts.name]
    best = min(named, key=lambda f: NAME_SOURCES.index(f.name_source or "title"), default=None)
    described = next((facts for facts in found if facts.description), None)
    social: dict[str, str] = {}
    for facts in found:
        social = {**facts.social, **social}  # the homepage's profile wins per network
    social = {network: social[network] for network in SOCIAL_NETWORKS if network in social}
    return {
        "name": best.name if best else None,
        "name_source": best.name_source if best else None,
        "description": described.description if described else None,
        "description_source": described.description_source if described else None,
        "emails": unique(email for facts in found for email in facts.emails),
        "phones": unique(phone for facts in found for phone in facts.phones),
        "phone_region": found[0].region,
        "social": social,
        "address": next((facts.address for facts in found if facts.address), None),
        "language": next((facts.language for facts in found if facts.language), None),
    }

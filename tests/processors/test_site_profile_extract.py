"""site_profile's extraction, one function at a time: text or a small page in, facts out."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import ValidationError
from selectolax.lexbor import LexborHTMLParser

from jobs.processors.contact_link import contact_link, link_rank, same_site
from jobs.processors.contacts import (
    clean_email,
    emails_in_mailto,
    emails_in_text,
    normalize_phone,
    phone_in_tel,
    phones_in_text,
)
from jobs.processors.profile_extract import (
    clean_title,
    country_hint,
    json_ld_nodes,
    page_language,
    parse_json_ld,
)
from jobs.processors.site_profile import SiteProfile, extract_page, merge
from jobs.processors.social import classify_social, social_profiles


def page(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html)


def facts(html: str, url: str = "https://acme.example/", region: str = "US"):
    return extract_page(page(html), url, content_language=None, default_region=region)


# --- e-mail addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail info@acme.example today", ["info@acme.example"]),
        ("Mixed case: Sales@ACME.Example.", ["sales@acme.example"]),
        ("name [at] example [dot] com", ["name@example.com"]),
        ("name[at]example[dot]com", ["name@example.com"]),
        ("name (at) example (dot) co (dot) uk", ["name@example.co.uk"]),
        ("name(at)example.com", ["name@example.com"]),
        ("name {at} example {dot} org", ["name@example.org"]),
        ("name AT example DOT com", ["name@example.com"]),
        ("write to name at example dot com please", ["name@example.com"]),
        ("jane.doe+news@mail.example.org", ["jane.doe+news@mail.example.org"]),
        ("a@x.example, b@x.example and a@x.example again", ["a@x.example", "b@x.example"]),
    ],
)
def test_emails_in_text_are_found_and_deobfuscated(text, expected):
    assert emails_in_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "logo@2x.png",
        "icon@3x.webp",
        "hero@1.5x.jpg",
        "bundle@4.2.1.js",
        "sprite@retina.svg",
        "0123456789abcdef0123456789abcdef@o12345.ingest.sentry.io",
        "abc@sentry.wixpress.com",
        "meet (at) noon",  # no domain after the de-obfuscation
        "look at example dot com",  # a sentence, not an address
        "we are at home dot",  # no last label
        "user@localhost",
        "a..b@example.com",
        "x@-bad.example.com",
    ],
)
def test_asset_names_tracking_keys_and_prose_are_not_emails(text):
    assert emails_in_text(text) == []


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Info@Acme.Example", "info@acme.example"),
        ("info@acme.example.", "info@acme.example"),
        ("logo@2x.png", None),
        ("x@y.z", None),
        ("no-at-sign.example", None),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
    ],
)
def test_clean_email(address, expected):
    assert clean_email(address) == expected


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("mailto:Sales@Acme.example?subject=Hi", ["sales@acme.example"]),
        ("mailto:a@acme.example,%20b@acme.example", ["a@acme.example", "b@acme.example"]),
        ("mailto:", []),
        ("mailto:not-an-address", []),
    ],
)
def test_emails_in_mailto(href, expected):
    assert emails_in_mailto(href) == expected


def test_email_scan_stays_fast_on_hostile_text():
    hostile = ("a." * 50_000 + "@") * 40 + " x at y dot " * 50_000 + "@" * 200_000
    # CPU time, not wall time: a loaded machine must not fail it; catastrophic backtracking
    # (the bug this guards against) would take minutes of CPU.
    started = time.process_time()
    assert emails_in_text(hostile) == []
    assert time.process_time() - started < 5


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("Phone: (212) 555-0123", "US", ["+12125550123"]),
        ("Tel.: 030 1234567", "DE", ["+49301234567"]),
        ("Telefon 030 1234567, Fax 030 1234568", "DE", ["+49301234567"]),
        ("T: 020 7946 0002", "GB", ["+442079460002"]),
        ("☎ 0171 1234567", "DE", ["+491711234567"]),
        ("Call us on +44 20 7946 0000 any time", "US", ["+442079460000"]),
        ("+1 415 555 2671", "DE", ["+14155552671"]),  # international: no label needed
        ("Tel. 030 1234567 or 030 7654321", "DE", ["+49301234567", "+49307654321"]),
        ("Order number 2125550123", "US", []),  # no phone context
        ("Since 1999-2024 we have served 12345678 customers", "US", []),
        ("Phone: 123", "US", []),  # too short to be a number
        ("Phone: (000) 000-0000", "US", []),  # not a valid number
        ("Fax: +49 30 1234568", "DE", []),
    ],
)
def test_phones_in_text_only_in_phone_contexts(text, region, expected):
    assert phones_in_text(text, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49 (0)30 1234567", "US", "+49301234567"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("020 7946 0002", "GB", "+442079460002"),
        ("020 7946 0002", "US", None),
        ("not a number", "US", None),
        ("", "US", None),
    ],
)
def test_normalize_phone_gives_e164_or_none(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("tel:+442079460001", "+442079460001"),
        ("tel:020%207946%200002", "+442079460002"),
        ("callto:+1-212-555-0123", "+12125550123"),
        ("tel:12", None),
    ],
)
def test_phone_in_tel_links(href, expected):
    assert phone_in_tel(href, "GB") == expected


@pytest.mark.parametrize(
    ("html", "url", "expected"),
    [
        ('<html lang="de-DE"></html>', "https://acme.example/", "DE"),
        ('<html lang="en_gb"></html>', "https://acme.example/", "GB"),
        (
            '<html lang="en"><link rel="alternate" hreflang="en-AU" href="/au/">'
            '<link rel="alternate" hreflang="en-NZ" href="/nz/"></html>',
            "https://acme.example/nz/",
            "NZ",
        ),
        ('<html lang="fr"></html>', "https://acme.fr/", "FR"),
        ("<html></html>", "https://acme.co.uk/", "GB"),
        ("<html></html>", "https://acme.io/", None),  # a ccTLD used as a generic one
        ("<html></html>", "http://127.0.0.1:8000/", None),
        ('<link rel="alternate" hreflang="de-DE" href="http://[::1">', "https://a.example/", None),
    ],
)
def test_country_hint_from_lang_hreflang_and_tld(html, url, expected):
    assert country_hint(page(html), url) == expected


# --- social profiles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://twitter.com/acme", ("twitter", "https://twitter.com/acme")),
        ("https://x.com/acme?ref=footer", ("twitter", "https://x.com/acme")),
        ("https://twitter.com/intent/tweet?text=hi", None),
        ("https://twitter.com/share?url=x", None),
        ("https://www.facebook.com/acme/", ("facebook", "https://facebook.com/acme")),
        ("https://www.facebook.com/sharer/sharer.php?u=x", None),
        ("https://facebook.com/sharer.php?u=x", None),
        (
            "https://m.facebook.com/profile.php?id=42&ref=x",
            ("facebook", "https://facebook.com/profile.php?id=42"),
        ),
        (
            "https://www.linkedin.com/company/acme/about/",
            ("linkedin", "https://linkedin.com/company/acme"),
        ),
        ("https://de.linkedin.com/in/jane-doe", ("linkedin", "https://linkedin.com/in/jane-doe")),
        ("https://www.linkedin.com/shareArticle?mini=true&url=x", None),
        ("https://www.linkedin.com/sharing/share-offsite/?url=x", None),
        ("https://instagram.com/acme", ("instagram", "https://instagram.com/acme")),
        ("https://www.instagram.com/p/Cx123/", None),
        ("https://www.youtube.com/@acme", ("youtube", "https://youtube.com/@acme")),
        (
            "https://youtube.com/channel/UC123/videos",
            ("youtube", "https://youtube.com/channel/UC123"),
        ),
        ("https://www.youtube.com/watch?v=abc", None),
        ("https://github.com/acme/widgets", ("github", "https://github.com/acme")),
        ("https://github.com/sponsors/acme", None),
        ("//GitHub.com/Acme", ("github", "https://github.com/Acme")),
        ("https://example.com/twitter.com/acme", None),
        ("mailto:acme@twitter.com", None),
        ("https://twitter.com/", None),
    ],
)
def test_classify_social(url, expected):
    assert classify_social(url) == expected


def test_social_profiles_keep_the_first_profile_per_network_in_a_fixed_order():
    urls = [
        "https://github.com/acme",
        "https://twitter.com/intent/tweet",
        "https://x.com/acme",
        "https://twitter.com/acme_old",
    ]
    assert social_profiles(urls) == {
        "twitter": "https://x.com/acme",
        "github": "https://github.com/acme",
    }


# --- name, description, language -------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Home | Acme Corp", "Acme Corp"),
        ("Acme Corp | Home", "Acme Corp"),
        ("Acme Corp – Widgets for everyone", "Acme Corp"),
        ("Startseite - Müller GmbH", "Müller GmbH"),
        ("Welcome to Acme", "Acme"),
        ("Coca-Cola", "Coca-Cola"),
        ("  Acme\n  Corp  ", "Acme Corp"),
        ("Home", None),
        ("", None),
    ],
)
def test_clean_title(title, expected):
    assert clean_title(title) == expected


ORG = '{"@type": "Organization", "name": "Acme Ltd", "description": "We make widgets."}'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            f'<script type="application/ld+json">{ORG}</script>'
            '<meta property="og:site_name" content="Acme OG"><title>Home | Acme Title</title>',
            ("Acme Ltd", "json-ld"),
        ),
        (
            '<meta property="og:site_name" content="Acme OG"><title>Home | Acme Title</title>',
            ("Acme OG", "og:site_name"),
        ),
        ("<title>Home | Acme Title</title>", ("Acme Title", "title")),
        (
            '<script type="application/ld+json">{"@type": "WebSite", "name": "Not a company"}</script>'
            "<title>Acme Title</title>",
            ("Acme Title", "title"),
        ),
        ("", (None, None)),
    ],
)
def test_name_falls_back_from_json_ld_to_og_site_name_to_title(head, expected):
    found = facts(f"<html><head>{head}</head><body></body></html>")
    assert (found.name, found.name_source) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            f'<script type="application/ld+json">{ORG}</script>'
            '<meta name="description" content="Meta text"><meta property="og:description" content="OG">',
            ("We make widgets.", "json-ld"),
        ),
        (
            '<meta name="description" content="Meta text"><meta property="og:description" content="OG">',
            ("Meta text", "description"),
        ),
        ('<meta property="og:description" content="OG text">', ("OG text", "og:description")),
        ('<meta name="description" content="   ">', (None, None)),
    ],
)
def test_description_falls_back_from_json_ld_to_meta_to_og(head, expected):
    found = facts(f"<html><head>{head}</head></html>")
    assert (found.description, found.description_source) == expected


@pytest.mark.parametrize(
    ("html", "header", "expected"),
    [
        ('<html lang="de-AT">', "en", "de-AT"),
        ("<html>", "fr-CA, en", "fr-CA"),
        ('<html lang="">', None, None),
    ],
)
def test_language_from_html_lang_else_content_language(html, header, expected):
    assert page_language(page(html), header) == expected


# --- JSON-LD ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"@type": "Organization"}', {"@type": "Organization"}),
        ('{"@type": "Organization", "name": "A",}', {"@type": "Organization", "name": "A"}),
        ('<!-- {"@type": "Thing"} -->', {"@type": "Thing"}),
        ('//<![CDATA[\n{"@type": "Thing"}\n//]]>', {"@type": "Thing"}),
        ('{"name": "line\nbreak", "@type": "Thing"}', {"name": "line\nbreak", "@type": "Thing"}),
        ("{not json", None),
        ("", None),
        ("[" * 100_000, None),  # deeper than the JSON parser's recursion limit
    ],
)
def test_parse_json_ld_tolerates_common_breakage(text, expected):
    assert parse_json_ld(text) == expected


def test_json_ld_nodes_unroll_graphs_and_lists_top_level_first():
    html = """
    <script type="application/ld+json">{"@type": "Article", "publisher":
        {"@type": "Organization", "name": "Agency that built the site"}}</script>
    <script type="application/ld+json">{ "oops": </script>
    <script type="application/ld+json; charset=utf-8">{"@context": "https://schema.org",
        "@graph": [{"@type": "WebSite", "name": "Site"},
                   [{"@type": ["schema:LocalBusiness"], "name": "Acme Bakery"}]]}</script>
    <script type="text/javascript">{"@type": "Organization", "name": "not JSON-LD"}</script>
    """
    nodes, bad = json_ld_nodes(page(html))
    assert bad == 1
    assert [node.get("name") for node in nodes] == [
        None,
        "Site",
        "Acme Bakery",
        "Agency that built the site",
    ]
    assert facts(html).name == "Acme Bakery"


def test_address_from_json_ld_postal_address():
    html = """<script type="application/ld+json">{"@type": "Corporation", "name": "Acme",
      "address": [{"@type": "PostalAddress", "streetAddress": " 1  Main St ", "postalCode": 10115,
                   "addressLocality": "Berlin", "addressCountry": {"@type": "Country", "name": "DE"}}]
    }</script>"""
    assert facts(html).address == {
        "streetAddress": "1 Main St",
        "postalCode": "10115",
        "addressLocality": "Berlin",
        "addressRegion": None,
        "addressCountry": "DE",
    }
    assert facts("<p>no structured data</p>").address is None
    text_only = '{"@type": "Organization", "address": "1 Main St, Berlin"}'
    assert facts(f'<script type="application/ld+json">{text_only}</script>').address is None


def test_extract_page_reads_links_text_and_json_ld():
    html = """<html lang="en-US"><head><script type="application/ld+json">
      {"@type": "Organization", "name": "Acme", "email": ["mailto:Hello@Acme.example"],
       "telephone": "(212) 555-0100", "sameAs": ["https://www.linkedin.com/company/acme"]}
    </script></head><body>
      <a href="mailto:sales@acme.example">Mail</a> <a href="tel:212-555-0101">Call</a>
      <p>Support: support [at] acme [dot] example, Phone: 212 555 0102, Fax: 212 555 0103</p>
      <img src="logo@2x.png"> <p>Download logo@2x.png</p>
      <a href="https://twitter.com/intent/tweet">Tweet</a> <a href="/relative">x</a>
      <script>var sentry = "dsn@o1.ingest.sentry.io"; var mail = "hidden@acme.example";</script>
    </body></html>"""
    found = facts(html, region="GB")
    assert found.region == "US"  # the page's lang beats the default region
    assert found.emails == ["sales@acme.example", "hello@acme.example", "support@acme.example"]
    assert found.phones == ["+12125550101", "+12125550100", "+12125550102"]
    assert found.social == {"linkedin": "https://linkedin.com/company/acme"}


def test_extract_page_never_raises_on_garbage():
    for html in ["", "\x00\x01\x02", "<<<>>>", "<a href='http://[::1'>x</a>", "<html lang>" * 1000]:
        found = facts(html)
        assert (found.emails, found.phones, found.social) == ([], [], {})


# --- the contact/about link ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "rank"),
    [
        ("Contact us", "/x", 3),
        ("", "/kontakt/", 3),
        ("Get in touch", "/", 3),
        ("Impressum", "/impressum", 2),
        ("About us", "/about-us", 1),
        ("Über uns", "/ueber-uns", 1),
        ("", "/company.html", 1),
        ("Blog", "/blog", 0),
        ("Roundabout widgets", "/roundabout", 0),
    ],
)
def test_link_rank(text, path, rank):
    assert link_rank(text, path) == rank


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (
            '<a href="about.html">About us</a><a href="/contact">Contact</a>',
            "https://acme.example/contact",
        ),
        ('<a href="https://www.acme.example/about">About</a>', "https://www.acme.example/about"),
        ('<a href="https://other.example/contact">Contact</a>', None),
        ('<a href="mailto:x@acme.example">Contact</a><a href="#contact">Contact</a>', None),
        ('<a href="/">Contact</a>', None),  # the homepage itself
        ('<a href="/contact.pdf">Contact</a>', None),
        ('<a href="/blog">Blog</a>', None),
    ],
)
def test_contact_link_prefers_contact_over_about_on_the_same_site(links, expected):
    assert contact_link(page(f"<body>{links}</body>"), "https://acme.example/") == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("https://acme.example/", "https://www.acme.example/x", True),
        ("http://acme.example/", "https://acme.example/", True),
        ("https://acme.example/", "https://shop.acme.example/", False),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8001/", False),
        ("http://127.0.0.1:99999/", "http://127.0.0.1/", False),
    ],
)
def test_same_site(a, b, expected):
    assert same_site(a, b) is expected


def test_merge_prefers_the_homepage_but_takes_a_better_name_source():
    home = facts(
        '<html lang="en"><head><title>Home | Acme</title></head><body>'
        '<a href="https://x.com/acme">X</a> info@acme.example</body></html>'
    )
    contact = facts(
        '<script type="application/ld+json">{"@type": "Organization", "name": "Acme Ltd",'
        '"address": {"@type": "PostalAddress", "addressLocality": "Leeds"}}</script>'
        '<a href="https://x.com/other">X</a><a href="https://github.com/acme">GH</a>'
        "<p>info@acme.example, sales@acme.example</p>"
    )
    merged = merge([home, contact])
    assert (merged["name"], merged["name_source"]) == ("Acme Ltd", "json-ld")
    assert merged["emails"] == ["info@acme.example", "sales@acme.example"]
    assert merged["social"] == {
        "twitter": "https://x.com/acme",
        "github": "https://github.com/acme",
    }
    assert merged["address"]["addressLocality"] == "Leeds"
    assert merged["language"] == "en"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [({}, {"default_region": "US"}), ({"default_region": "de"}, {"default_region": "DE"})],
)
def test_default_region_option(raw, expected):
    assert SiteProfile.clean_options(raw) == expected


def test_default_region_must_be_a_country():
    with pytest.raises(ValidationError):
        SiteProfile.clean_options({"default_region": "XX"})

"""The processors' shortcuts give the answers of the slow, obvious scan they replace.

site_profile anchors its text scans (phone runs at digit runs, e-mails at "@", obfuscations at
brackets and " dot ") and prefilters links (social hosts, contact/about words) so that most of a
page is never looked at by Python. Each test compares a shortcut with the plain version on
hand-picked cases and on seeded random inputs built from the characters that matter.
"""

from __future__ import annotations

import random
import re

import pytest
from selectolax.lexbor import LexborHTMLParser

from jobs.processors import contact_link as links
from jobs.processors import contacts
from jobs.processors.contacts import _AT, _PHONE_RUN, Contacts, emails_in_text
from jobs.processors.profile_extract import collapse, visible_text
from jobs.processors.social import SOCIAL_NETWORKS, classify_social, social_profiles

PHONE_PIECES = [
    *("0", "1", "42", "030", "555", "1234567", "2024", "+", "(", ")", "(+", " ", "  ", "-", "/"),
    *(".", "a", "x1", "_", "Tel.", "Fax", "☎", "+49", "\n", "é", "’", "—", "\xa0", "\u2003", "\t"),
    *("０３", "１２３４", "٤٩", "١٢٣", "९"),  # digits outside ASCII: fullwidth, Arabic, Devanagari
]
EMAIL_PIECES = [
    *("a", "Z", "name", ".", "@", "@@", " ", "-", "+", "_", "%", "at", "AT", "dot", "DoT"),
    *("[", "]", "(", ")", "{", "}", "<", ">", "example", "com", "é", "\u212a", "İ", "\xa0"),
]


def random_texts(pieces: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(pieces, k=rng.randint(0, 60))) for _ in range(count)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Tel. 030 1234567 or (030) 7654321, +49 30 1234567",
        "(+49) 89 123456 and 1234567890123456789012345678901234",
        "x1234567 1234567x 12345 123456 +1234567",
        "Tel ０３-１２３４-５６７８",  # fullwidth: the pattern itself runs
        "Tel +٤٩ ٣٠ ١٢٣٤٥٦٧ and 030 1234567",
        "café 030 1234567 — ’quoted’ +44 20 7946 0958",
    ],
)
def test_phone_runs_are_the_runs_the_pattern_finds_everywhere(text):
    contacts = Contacts(text)
    expected = [m.span() for m in _PHONE_RUN.finditer(collapse(text))]
    assert [m.span() for m in contacts._phone_runs()] == expected


def test_phone_runs_on_random_text_are_the_runs_the_pattern_finds_everywhere():
    for text in random_texts(PHONE_PIECES, 3000, seed=4):
        contacts = Contacts(text)
        expected = [m.span() for m in _PHONE_RUN.finditer(collapse(text))]
        assert [m.span() for m in contacts._phone_runs()] == expected, text
        # The raw-text check that lets most pages skip collapsing never misses a run.
        assert contacts._may_hold_phone_run() or not expected, text


def test_non_ascii_digit_lead_bytes_are_complete():
    leads = {chr(c).encode()[:1] for c in range(0x80, 0x110000) if chr(c).isdecimal()}
    assert leads == set(contacts._DIGIT_LEADS)
    assert contacts._NON_ASCII_DIGIT.search("0123456789 abc") is None
    assert contacts._NON_ASCII_DIGIT.search("tel ٣") is not None


def test_email_anchor_and_obfuscation_hints_find_what_the_plain_scan_finds():
    plain_at = re.compile(r"(?<=[a-z0-9._%+-])@(?=[a-z0-9])", re.IGNORECASE)
    for text in random_texts(EMAIL_PIECES, 3000, seed=5):
        assert [m.start() for m in _AT.finditer(text)] == [
            m.start() for m in plain_at.finditer(text)
        ]
    assert emails_in_text("write to jane at example DoT com") == ["jane@example.com"]
    assert emails_in_text("write to jane\n at \t example\xa0dot  com") == ["jane@example.com"]
    assert emails_in_text("jane [\n at\n] example.org") == ["jane@example.org"]
    assert emails_in_text("jane (AT) example [dot] org") == ["jane@example.org"]


def test_social_prefilter_keeps_every_profile_the_plain_loop_finds():
    urls = [
        "/about",
        "https://example.com/x",
        "https://www.LinkedIn.com/company/acme/",
        "//github.com/acme",
        "https://twitter.com/intent/tweet",
        "https://X.com/acme",
        "https://lin\u212aedin.com/in/jane",  # KELVIN SIGN: lower-cases to "k"
        "https://fb.com/acme",
        "https://www.youtube.com/@acme",
        "https://instagram.com/acme",
    ]
    for start in range(len(urls)):
        subset = urls[start:] + urls[:start]
        plain: dict[str, str] = {}
        for url in subset:
            if hit := classify_social(url):
                plain.setdefault(*hit)
        expected = {network: plain[network] for network in SOCIAL_NETWORKS if network in plain}
        assert social_profiles(subset) == expected
    assert len(expected) == 6


def test_every_link_needle_holds_a_hint():
    for _rank, needles in links._NEEDLES:
        for needle in needles:
            assert any(hint in needle for hint in links.LINK_HINTS), needle
    assert not any("k" in hint for hint in links.LINK_HINTS)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="/x"><span>Con</span><b>tact</b></a>', None),  # two words to the plain ranker
        ('<a href="/x"><span><b>Contact</b></span></a>', "/x"),
        ('<a href="/x" title="Contact us">Write</a>', "/x"),
        ('<a href="/%61bout-us">Write</a>', "/%61bout-us"),  # only unquoting shows the word
        ('<a href="/x">\u212aONTAKT</a>', "/x"),  # KELVIN SIGN K
        ('<a href="/x"><img alt="contact"></a>', None),
        ('<a href="/a">Blog</a><a href="/b">ÜBER UNS</a><a href="/c">Impressum</a>', "/c"),
    ],
)
def test_contact_link_candidates_include_every_link_that_ranks(html, expected):
    url = links.contact_link(LexborHTMLParser(f"<body>{html}</body>"), "https://acme.example/")
    assert url == (f"https://acme.example{expected}" if expected else None)


def test_visible_text_stripped_in_place_is_the_copys_text():
    html = (
        "<body><p>a <script>s</script> b</p><noscript>n <style>x</style></noscript>"
        "<template>t</template><svg><text>v</text></svg><div>c</div></body>"
    )
    tree = LexborHTMLParser(html)
    copied = visible_text(tree)
    assert copied.split() == ["a", "b", "c"]
    assert visible_text(tree, in_place=True) == copied
    assert tree.css_first("script") is None  # in place means in place

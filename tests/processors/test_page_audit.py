"""page_audit through a real worker: every fixture page's answers match the file next to it.

Each ``tests/fixture_site/*.expected.json`` with ``"processor": "page_audit"`` names a page (``url``)
and what its item must end as: ``status`` (+ ``error_code``/``http_status`` for failures) and,
for successes, the ``result`` fields. Dicts are compared on the keys the file gives, lists
element by element, ``{base}`` stands for the fixture site's address.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from selectolax.lexbor import LexborHTMLParser

from jobs.models import ItemStatus, JobStatus
from jobs.processors.audit_facts import count_words, header_noindex, read_facts
from jobs.processors.page_audit import WEIGHTS, PageAudit, score
from jobs.processors.registry import get_processor
from jobs.services import submit_batch
from tests.conftest import refreshed
from tests.fixture_site.app import ROOT as FIXTURES

pytestmark = pytest.mark.django_db(transaction=True)
STRATEGIES = ("mobile", "desktop")


def expectations() -> dict[str, dict]:
    found = {}
    for path in sorted(FIXTURES.glob("*.expected.json")):
        expected = json.loads(path.read_text(encoding="utf-8"))
        if expected.get("processor") == "page_audit":
            found[path.name.removesuffix(".expected.json")] = expected
    return found


def mismatches(expected: Any, actual: Any, base: str, where: str = "") -> list[str]:
    """Where `actual` differs from `expected` (a dict compares only the keys `expected` has)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += mismatches(value, actual[key], base, f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, got {actual!r}"]
        problems = []
        for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems += mismatches(want, got, base, f"{where}[{i}]")
        return problems
    if isinstance(expected, str):
        expected = expected.replace("{base}", base)
    if expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def run(alice, burst_worker, urls: list[str], **options) -> tuple[Any, dict[str, Any]]:
    job = submit_batch(
        alice, urls=urls, processor="page_audit", options=options, max_attempts=1
    ).job
    burst_worker()
    job = refreshed(job)
    return job, {item.input: item for item in job.items.all()}


def test_page_audit_is_registered_with_its_steps_and_options():
    processor = get_processor("page_audit")
    assert processor is PageAudit
    assert (processor.label, processor.steps) == (
        "Page audit",
        ("fetch", "parse", "robots", "score"),
    )
    assert processor.clean_options({}) == {"strategy": "mobile"}
    assert processor.clean_options({"strategy": "desktop"}) == {"strategy": "desktop"}
    with pytest.raises(ValidationError):
        processor.clean_options({"strategy": "tablet"})


def test_every_fixture_page_gets_the_answers_written_next_to_it(
    alice, fixture_site, site, burst_worker
):
    pages = expectations()
    assert {"good", "bad", "noindex-meta", "noindex-header", "disallowed", "latin1"} <= set(pages)
    urls = {name: fixture_site.url(expected["url"]) for name, expected in pages.items()}
    bomb = site.url("/gzip-bomb")
    job, items = run(alice, burst_worker, [*urls.values(), bomb])

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS  # the hostile pages failed, cleanly
    assert job.count_succeeded + job.count_failed == len(urls) + 1
    problems = []
    for name, expected in pages.items():
        item = items[urls[name]]
        got = {
            "status": item.status,
            "error_code": item.error_code,
            "http_status": item.http_status,
        }
        want = {k: expected[k] for k in ("status", "error_code", "http_status") if k in expected}
        problems += [f"{name}: {p}" for p in mismatches(want, got, "", "item")]
        if "result" in expected:
            result = item.result or {}
            problems += [
                f"{name}: {p}"
                for p in mismatches(expected["result"], result, fixture_site.base_url, "result")
            ]
    assert not problems, "\n".join(problems)
    assert (items[bomb].status, items[bomb].error_code) == ("failed", "RESPONSE_TOO_LARGE")


def test_result_has_every_documented_field_and_a_consistent_score(
    alice, fixture_site, burst_worker
):
    url = fixture_site.url("/good.html")
    _, items = run(alice, burst_worker, [url])
    result = items[url].result
    assert set(result) >= {
        "title", "meta_description", "h1", "canonical", "robots_meta", "x_robots_tag",
        "robots_txt", "indexable", "indexability_reasons", "lang", "hreflang", "word_count",
        "links", "images", "page_weight", "cache", "viewport", "timings",
        "structured_data_types", "status_code", "final_url", "score", "score_reasons",
    }  # fmt: skip
    assert set(result["timings"]) == {"ttfb", "total"}
    assert 0 < result["timings"]["ttfb"] <= result["timings"]["total"]
    weight = result["page_weight"]
    assert weight["transfer_bytes"] < weight["html_bytes"]  # gzip on the wire
    assert items[url].current_step == "score" or items[url].status == ItemStatus.SUCCEEDED


def test_mobile_requires_a_viewport_and_desktop_does_not(
    alice, fixture_site, burst_worker, settings
):
    settings.BATCHSITE_USER_AGENT = "batchsite/9.9 (+https://batch.example/bot)"
    urls = {strategy: fixture_site.url(f"/bad.html?as={strategy}") for strategy in STRATEGIES}
    _, mobile = run(alice, burst_worker, [urls["mobile"]], strategy="mobile")
    _, desktop = run(alice, burst_worker, [urls["desktop"]], strategy="desktop")
    mobile, desktop = mobile[urls["mobile"]].result, desktop[urls["desktop"]].result
    # Fetched as a smartphone and as a desktop browser, the product named in both.
    agents = {s: fixture_site.user_agent(f"/bad.html?as={s}") for s in STRATEGIES}
    assert "Mobile" in agents["mobile"]
    assert "Mobile" not in agents["desktop"]
    assert all(
        "(compatible; batchsite/9.9 (+https://batch.example/bot))" in a for a in agents.values()
    )
    assert (mobile["strategy"], desktop["strategy"]) == ("mobile", "desktop")
    assert "missing_viewport" in {r["code"] for r in mobile["score_reasons"]}
    assert "missing_viewport" not in {r["code"] for r in desktop["score_reasons"]}
    assert desktop["score"] - mobile["score"] == WEIGHTS["missing_viewport"]


def test_robots_txt_is_fetched_once_per_host_for_the_whole_job(alice, fixture_site, burst_worker):
    before = fixture_site.hits("/robots.txt")
    urls = [fixture_site.url(f"/good.html?copy={i}") for i in range(12)]
    job, items = run(alice, burst_worker, urls)
    assert job.status == JobStatus.COMPLETED
    assert all(item.result["robots_txt"]["allowed"] for item in items.values())
    assert fixture_site.hits("/robots.txt") - before == 1


def test_non_2xx_fails_with_http_error_and_5xx_is_retried(alice, site, burst_worker):
    site.reset()
    flaky = site.url("/flaky/page-audit?fails=1")
    missing = site.url("/404")
    job = submit_batch(alice, urls=[flaky, missing], processor="page_audit", max_attempts=2).job
    burst_worker()
    items = {item.input: item for item in refreshed(job).items.all()}
    assert (items[flaky].status, items[flaky].attempts) == (ItemStatus.SUCCEEDED, 2)
    assert items[flaky].result["title"]["text"] == "Local test page"
    assert (items[missing].status, items[missing].error_code) == (ItemStatus.FAILED, "HTTP_ERROR")
    assert (items[missing].http_status, items[missing].attempts) == (404, 1)


def test_x_robots_tag_for_another_crawler_does_not_count():
    assert header_noindex(["noindex"], "batchsite")
    assert header_noindex(["batchsite: noindex"], "batchsite")
    assert not header_noindex(["googlebot: noindex"], "batchsite")
    assert not header_noindex(["unavailable_after: 25 Jun 2010 15:00:00 PST"], "batchsite")
    assert header_noindex(["nofollow", "NONE"], "batchsite")


def test_words_are_tokens_with_a_letter_or_digit():
    assert count_words("") == 0
    assert count_words("call us .") == 2
    assert count_words("© 2025 Fresh Coffee · more — “quoted”") == 5
    assert count_words("Привет мир 日本語 l’été") == 4
    assert count_words("10\u00a0km") == 2  # a no-break space separates words
    assert count_words("東京\u3000大阪") == 2  # so does an ideographic space
    assert count_words("... --- ***") == 0


@pytest.mark.parametrize(
    ("html", "words"),
    [
        ("<head><noscript><style>a b c</style></noscript></head><body>one two</body>", 2),
        ("<body>one <noscript>x <style>q r</style></noscript> two<script>var a = 1</script>", 2),
        ("<body><template><p>t u</p></template><p>a</p><svg><style>x y</style></svg>", 1),
        # Every element boundary separates words: right for blocks ("<p>a</p><p>b</p>", minified),
        # one too many for a word split by an inline tag ("<b>c</b>d") — the cheaper error.
        ("<p>a</p><p>b</p><b>c</b>d", 4),
    ],
)
def test_visible_words_skip_everything_hidden(html, words):
    assert (
        read_facts(LexborHTMLParser(html), "http://example.com/", "batchsite").word_count == words
    )


def test_link_urls_that_cannot_be_parsed_are_ignored_instead_of_crashing_the_audit():
    html = (
        '<head><base href="http://[::1/"><link rel="canonical" href="http://[::1/">'
        '<link rel="alternate" hreflang="de" href="//[bad/de">'
        '<link rel="alternate" hreflang="en" href="/en"></head>'
    )
    facts = read_facts(LexborHTMLParser(html), "http://example.com/a/", "batchsite")
    assert facts.canonical is None
    assert facts.hreflang == [{"lang": "en", "href": "http://example.com/en"}]


def test_score_is_100_minus_the_weights_and_never_negative():
    terrible = {
        "title": {"text": None, "length": 0},
        "meta_description": {"text": None, "length": 0},
        "h1": [],
        "indexability_reasons": ["noindex in robots meta", "canonical points elsewhere"],
        "canonical": {"url": "http://x/", "points_elsewhere": True},
        "viewport": None,
        "images": {"total": 50, "missing_alt": 50},
        "page_weight": {"html_bytes": 2_000_000, "compressed": False},
        "cache": {"cache_control": None, "etag": None},
        "timings": {"ttfb": 2500.0, "total": 3000.0},
        "lang": None,
        "structured_data_types": [],
    }
    value, reasons = score(terrible, "mobile")
    assert value == 0
    codes = {r["code"]: r["points"] for r in reasons}
    assert codes["images_missing_alt"] == WEIGHTS["images_missing_alt"][1]  # capped
    assert "very_slow_ttfb" in codes
    assert "slow_ttfb" not in codes
    assert sum(codes.values()) > 100


def test_fixture_pages_are_where_the_expectations_say(fixture_site):
    for name, expected in expectations().items():
        if expected["status"] == "succeeded":
            assert (FIXTURES / expected["url"].lstrip("/")).is_file(), name
    assert Path(FIXTURES / "headers.json").is_file()

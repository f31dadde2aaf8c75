"""jobs/processors/pages.py: decoding, NOT_HTML / HTTP_ERROR, robots.txt — against real servers."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from selectolax.lexbor import LexborHTMLParser

from jobs.fetch import Fetcher
from jobs.processors.base import Context, ItemError
from jobs.processors.pages import decode_html, get_page, robots_for, user_agent_token


@contextlib.asynccontextmanager
async def job_context() -> AsyncIterator[Context]:
    """What the runner gives a processor: the real fetcher (SSRF guard included) and a job cache."""
    async with Fetcher.from_settings() as fetcher:
        yield Context(
            fetcher=fetcher,
            job_id="test",
            options={},
            cache={},
            is_cancelled=lambda: False,
            log_sink=lambda level, message: None,
        )


@contextlib.asynccontextmanager
async def robots_server(status: int, body: str = "") -> AsyncIterator[str]:
    """A one-route server in this event loop whose /robots.txt answers `status`."""

    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body)

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def fails_with(coro, code: str) -> ItemError:
    with pytest.raises(ItemError) as caught:
        asyncio.run(coro)
    assert caught.value.code == code, caught.value.message
    return caught.value


# --- decoding ------------------------------------------------------------------------------------


def test_latin1_declared_by_header_decodes_as_windows_1252():
    body = "<p>Café l’été</p>".encode("cp1252")  # ’ is 0x92: a C1 control in real Latin-1
    assert decode_html(body, "ISO-8859-1") == ("<p>Café l’été</p>", "cp1252")
    assert decode_html(body, "latin1")[1] == "cp1252"
    assert decode_html(b"<p>plain</p>", "us-ascii")[1] == "cp1252"


def test_windows_1252_declared_in_meta_only():
    body = '<meta charset="windows-1252"><p>“5 €”</p>'.encode("cp1252")
    assert decode_html(body, None) == ('<meta charset="windows-1252"><p>“5 €”</p>', "cp1252")
    equiv = b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>caf\xe9'
    assert decode_html(equiv, None)[0].endswith("café")


def test_header_charset_wins_over_meta_and_bom_wins_over_both():
    body = '<meta charset="windows-1252"><p>é</p>'.encode()
    assert decode_html(body, "utf-8") == ('<meta charset="windows-1252"><p>é</p>', "utf-8")
    utf16 = codecs.BOM_UTF16_LE + "<p>é</p>".encode("utf-16-le")
    assert decode_html(utf16, "iso-8859-1") == ("<p>é</p>", "utf-16-le")


def test_undeclared_pages_are_utf8_or_detected():
    assert decode_html("<p>naïve café</p>".encode(), None) == ("<p>naïve café</p>", "utf-8")
    french = "<p>Ceci est une phrase en français, évidemment très élégante. Déjà vu.</p>"
    assert decode_html(french.encode("cp1252"), None) == (french, "cp1252")
    russian = "<p>Привет, как дела? Это тестовая страница.</p>"
    assert decode_html(russian.encode("cp1251"), None) == (russian, "cp1251")


def test_hostile_or_unknown_charset_labels_fall_back_safely():
    for label in ("base64", "rot13", "zlib", "utf-7", "no-such-charset", '"; drop'):
        assert decode_html(b"<p>ok \xc3\xa9</p>", label) == ("<p>ok é</p>", "utf-8"), label
    # A page cannot be UTF-16 if its ASCII meta was readable: the meta means UTF-8.
    assert decode_html(b"<meta charset=utf-16><p>\xc3\xa9", None)[1] == "utf-8"
    assert decode_html(b"<p>\xfd\xfe\xff", "utf-8") == ("<p>\ufffd\ufffd\ufffd", "utf-8")


# --- get_page -------------------------------------------------------------------------------------


def test_get_page_decodes_and_parses_once(fixture_site):
    async def go():
        async with job_context() as ctx:
            return await get_page(ctx, fixture_site.url("/latin1.html"))

    page = asyncio.run(go())
    assert page.final_url == page.url == fixture_site.url("/latin1.html")
    assert page.encoding == "cp1252"
    assert "l’été" in page.text
    assert isinstance(page.tree, LexborHTMLParser)
    assert page.tree.css_first("title").text() == "Café crème à Paris, l’été"
    assert page.response.status == 200


@pytest.mark.parametrize(
    "path",
    ["/binary.html", "/notes.txt", "/robots.txt"],  # binary body as text/html, text/plain
)
def test_get_page_refuses_what_is_not_html(fixture_site, path):
    async def go():
        async with job_context() as ctx:
            await get_page(ctx, fixture_site.url(path))

    fails_with(go(), "NOT_HTML")


def test_get_page_refuses_octet_stream(site):
    async def go():
        async with job_context() as ctx:
            await get_page(ctx, site.url("/binary"))

    fails_with(go(), "NOT_HTML")


def test_non_2xx_is_http_error_retryable_only_for_429_and_5xx(site):
    site.reset()

    async def go(path: str):
        async with job_context() as ctx:
            await get_page(ctx, site.url(path))

    missing = fails_with(go("/404"), "HTTP_ERROR")
    assert (missing.http_status, missing.retryable) == (404, False)
    busy = fails_with(go("/flaky/pages-unit?fails=3&retry_after=7"), "HTTP_ERROR")
    assert (busy.http_status, busy.retryable, busy.retry_after) == (503, True, 7.0)
    limited = fails_with(go("/rate-limited/pages-unit?fails=3"), "HTTP_ERROR")
    assert (limited.http_status, limited.retryable) == (429, True)


def test_gzip_bomb_stops_at_the_cap(site):
    async def go():
        async with job_context() as ctx:
            await get_page(ctx, site.url("/gzip-bomb"))

    fails_with(go(), "RESPONSE_TOO_LARGE")


# --- robots.txt -----------------------------------------------------------------------------------


def test_robots_rules_are_matched_by_product_token(fixture_site):
    async def go():
        async with job_context() as ctx:
            return await robots_for(ctx, fixture_site.url("/good.html"))

    robots = asyncio.run(go())
    assert (robots.url, robots.status, robots.unavailable) == (
        fixture_site.url("/robots.txt"),
        200,
        False,
    )
    assert robots.allows(fixture_site.url("/good.html"), "batchsite")
    assert not robots.allows(fixture_site.url("/disallowed.html"), "batchsite")
    assert not robots.allows(fixture_site.url("/good.html"), "otherbot")  # its own group


def test_robots_is_fetched_once_per_host_even_by_concurrent_items(fixture_site):
    before = fixture_site.hits("/robots.txt")

    async def go():
        async with job_context() as ctx:
            urls = [fixture_site.url(f"/page-{i}.html") for i in range(20)]
            found = await asyncio.gather(*(robots_for(ctx, url) for url in urls))
            return {id(robots) for robots in found}

    assert len(asyncio.run(go())) == 1
    assert fixture_site.hits("/robots.txt") - before == 1


def test_missing_robots_allows_all_and_a_failing_one_is_marked_unavailable():
    async def go(status: int):
        rules = "User-agent: *\nDisallow: /\n"
        async with robots_server(status, rules) as base, job_context() as ctx:
            robots = await robots_for(ctx, f"{base}/page")
            return robots, robots.allows(f"{base}/page", "batchsite")

    robots, allowed = asyncio.run(go(404))
    assert (robots.status, robots.unavailable, allowed) == (404, False, True)
    robots, allowed = asyncio.run(go(503))
    assert (robots.status, robots.unavailable, allowed) == (503, True, True)
    robots, allowed = asyncio.run(go(200))
    assert (robots.status, robots.unavailable, allowed) == (200, False, False)


def test_unreachable_robots_allows_all_but_says_so():
    async def go():
        async with job_context() as ctx:
            return await robots_for(ctx, "http://127.0.0.1:9/page")  # nothing listens on 9

    robots = asyncio.run(go())
    assert (robots.status, robots.unavailable) == (None, True)
    assert robots.allows("http://127.0.0.1:9/page", "batchsite")


def test_user_agent_token_is_the_product_name(settings):
    assert (
        user_agent_token("batchsite/0.1 (+https://github.com/batchsite/batchsite)") == "batchsite"
    )
    browser_like = (
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Mobile Safari/537.36 (compatible; batchsite/0.1; +https://example.com)"
    )
    assert user_agent_token(browser_like) == "batchsite"
    assert user_agent_token(settings.BATCHSITE_USER_AGENT) == "batchsite"


@pytest.mark.django_db(transaction=True)
def test_a_page_nested_too_deep_fails_fast_instead_of_stalling_the_runner(
    alice, site, burst_worker
):
    from jobs.models import ItemStatus, JobStatus
    from jobs.services import submit_batch
    from tests.conftest import refreshed

    started = time.monotonic()
    job = submit_batch(
        alice, urls=[site.url("/nested/200000"), site.url("/nested/50")], processor="page_audit"
    ).job
    burst_worker()
    assert time.monotonic() - started < 20
    job = refreshed(job)
    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    deep = job.items.get(url=site.url("/nested/200000"))
    assert (deep.status, deep.error_code) == (ItemStatus.FAILED, "PROCESSOR_ERROR")
    assert "nested about 200,00" in deep.error
    assert job.items.get(url=site.url("/nested/50")).status == ItemStatus.SUCCEEDED

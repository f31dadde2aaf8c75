"""Intake: parsing pasted text, API lists and CSV/TXT uploads, and normalising each URL.

Pure Python: no database, no Redis, no worker.
"""

from __future__ import annotations

import random

import pytest

from jobs import urlnorm
from jobs.intake import (
    Accepted,
    IntakeError,
    InvalidURL,
    Rejection,
    normalise_url,
    parse_submission,
    parse_text,
    parse_upload,
    parse_urls,
)


@pytest.fixture(autouse=True)
def redis_db() -> None:
    """Overrides the suite-wide Redis flush: intake never touches Redis."""
    return None


def rejected(reason: str) -> InvalidURL:
    return InvalidURL(reason)


# (input, normalised URL or the InvalidURL it must raise)
NORMALISE_CASES = [
    # bare domains get https, scheme and host are lower-cased, path case is kept
    ("example.com", "https://example.com"),
    ("  example.com  ", "https://example.com"),
    ("example.com/path", "https://example.com/path"),
    ("Example.COM/Path/", "https://example.com/Path/"),
    ("HTTP://EXAMPLE.COM/A", "http://example.com/A"),
    ("//example.com/x", "https://example.com/x"),
    ("www.example.co.uk", "https://www.example.co.uk"),
    # one trailing slash goes from a bare path only
    ("https://example.com/", "https://example.com"),
    ("https://example.com/a/", "https://example.com/a/"),
    ("https://example.com//", "https://example.com//"),
    ("example.com/?q=1", "https://example.com/?q=1"),
    ("example.com?q=1", "https://example.com/?q=1"),
    ("example.com?", "https://example.com"),
    # queries stay, fragments go
    ("https://example.com/search?q=a&b=2", "https://example.com/search?q=a&b=2"),
    ("https://example.com/page#section", "https://example.com/page"),
    ("https://example.com/?q=1#top", "https://example.com/?q=1"),
    # default ports go, others stay
    ("http://example.com:80/x", "http://example.com/x"),
    ("https://example.com:443", "https://example.com"),
    ("http://example.com:443", "http://example.com:443"),
    ("example.com:8080/a", "https://example.com:8080/a"),
    ("https://example.com:08080/", "https://example.com:8080"),
    ("example.com:", "https://example.com"),
    # IDNs are IDNA-encoded; non-ASCII paths are percent-encoded as UTF-8
    ("müller.de", "https://xn--mller-kva.de"),
    ("https://MÜLLER.de/straße?q=ü", "https://xn--mller-kva.de/stra%C3%9Fe?q=%C3%BC"),
    ("https://例え.jp", "https://xn--r8jz45g.jp"),
    ("https://münchen。de", "https://xn--mnchen-3ya.de"),
    ("https://xn--mller-kva.de", "https://xn--mller-kva.de"),
    # hosts: underscores, localhost, trailing dot, IP literals (the SSRF guard decides later)
    ("https://my_host.example.com", "https://my_host.example.com"),
    ("https://example.com.", "https://example.com"),
    ("https://localhost", "https://localhost"),
    ("localhost:8000/x", "https://localhost:8000/x"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("http://[::1]:8080/", "http://[::1]:8080"),
    ("http://[2001:DB8:0:0::1]", "http://[2001:db8::1]"),
    ("http://2130706433/", "http://2130706433"),
    ("http://0x7f000001", "http://0x7f000001"),
    ("http://0177.0.0.1", "http://0177.0.0.1"),
    ("https://example.com/a@b", "https://example.com/a@b"),
    # refused, each with a reason a person can act on
    ("", rejected("empty")),
    ("ftp://example.com", rejected('unsupported scheme "ftp" (only http and https)')),
    ("javascript:alert(1)", rejected('unsupported scheme "javascript" (only http and https)')),
    ("mailto:someone@example.com", rejected('unsupported scheme "mailto" (only http and https)')),
    ("tel:12345", rejected('unsupported scheme "tel" (only http and https)')),
    ("https://", rejected("no host")),
    ("https:///path", rejected("no host")),
    ("http:example.com", rejected("no host")),
    ("https://exa mple.com", rejected("contains spaces")),
    ("https://example.com/a b", rejected("contains spaces")),
    ("https://example.com/\u00a0x", rejected("contains spaces")),
    ("https://example.com/\x00", rejected("contains control characters")),
    ("https://exa\x7fmple.com", rejected("contains control characters")),
    ("https://example.com/\u200b", rejected("contains control characters")),
    ("https://example.com/" + "a" * 2030, rejected("longer than 2048 characters")),
    ("https://example.com:abc", rejected('invalid port "abc"')),
    ("https://example.com:0", rejected('invalid port "0"')),
    ("https://example.com:65536", rejected('invalid port "65536"')),
    ("example.com:80:80", rejected('invalid port "80:80"')),
    ("https://a..b.com", rejected("invalid host: empty label")),
    ("https://.example.com", rejected("invalid host: empty label")),
    ("https://" + "a" * 64 + ".com", rejected("invalid host: label longer than 63 characters")),
    ("https://exa!mple.com", rejected('invalid host: "!" is not allowed')),
    ("http://ex%41mple.com", rejected('invalid host: "%" is not allowed')),
    ("https://example.com\\evil.com", rejected('invalid host: "\\" is not allowed')),
    ("https://☃.com", rejected("invalid international domain name")),
    ("http://intranet", rejected("host needs a dot (e.g. example.com)")),
    ("http://2001:db8::1/", rejected("IPv6 addresses must be in brackets")),
    ("http://[zz]/", rejected("invalid IPv6 address")),
    ("https://[fe80::1%25eth0]/", rejected("invalid IPv6 address")),
    ("https://user:pass@example.com", rejected("credentials in URL are not allowed")),
    ("user:pass@example.com", rejected("credentials in URL are not allowed")),
    ("https://@example.com", rejected("credentials in URL are not allowed")),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALISE_CASES)
def test_normalise_url(raw: str, expected: str | InvalidURL) -> None:
    if isinstance(expected, InvalidURL):
        with pytest.raises(InvalidURL) as caught:
            normalise_url(raw)
        assert caught.value.reason == expected.reason
        assert str(caught.value) == expected.reason
    else:
        assert normalise_url(raw) == expected


@pytest.mark.parametrize(
    "raw", [raw for raw, expected in NORMALISE_CASES if isinstance(expected, str)]
)
def test_fast_path_agrees_with_the_general_parser(raw: str) -> None:
    assert urlnorm._from_parts(raw.strip()) == normalise_url(raw)


def test_normalise_url_refuses_a_non_string() -> None:
    with pytest.raises(InvalidURL, match="not a string"):
        normalise_url(42)  # type: ignore[arg-type]


# --- pasted text -----------------------------------------------------------------------------


def test_text_splits_on_newlines_commas_spaces_and_tabs() -> None:
    result = parse_text("a.com, b.com,c.com\nd.com e.com\tf.com\n  g.com  ")
    assert result.urls == [f"https://{name}.com" for name in "abcdefg"]
    assert [item.line for item in result.accepted] == [1, 1, 1, 2, 2, 2, 3]


def test_text_skips_blank_lines_and_comments() -> None:
    text = "# my sites\n\n   \na.com\n  # indented comment\nb.com  # the shop\n\t\n"
    result = parse_text(text)
    assert result.urls == ["https://a.com", "https://b.com"]
    assert result.rejected == []


def test_text_crlf_and_cr_keep_physical_line_numbers() -> None:
    result = parse_text("a.com\r\nbad\r\n\r\nb.com\rftp://c.com\r\n")
    assert [(item.line, item.url) for item in result.accepted] == [
        (1, "https://a.com"),
        (4, "https://b.com"),
    ]
    assert [(item.line, item.input) for item in result.rejected] == [(2, "bad"), (5, "ftp://c.com")]


def test_text_keeps_inputs_as_given_and_reports_reasons() -> None:
    result = parse_text("Example.com/\nmailto:x@y.com\n")
    assert result.accepted == [Accepted(line=1, input="Example.com/", url="https://example.com")]
    assert result.rejected == [
        Rejection(
            line=2,
            input="mailto:x@y.com",
            reason='unsupported scheme "mailto" (only http and https)',
        )
    ]


def test_duplicates_are_counted_and_the_first_wins() -> None:
    result = parse_text("example.com\nhttps://EXAMPLE.com/\nb.com\nexample.com#x, b.com")
    assert result.urls == ["https://example.com", "https://b.com"]
    assert [item.line for item in result.accepted] == [1, 3]
    assert result.duplicates == 3


def test_invalid_inputs_are_not_deduplicated() -> None:
    result = parse_text("bad\nbad\n")
    assert [(r.line, r.reason) for r in result.rejected] == [
        (1, "host needs a dot (e.g. example.com)"),
        (2, "host needs a dot (e.g. example.com)"),
    ]
    assert result.duplicates == 0


# --- API lists -------------------------------------------------------------------------------


def test_list_entries_are_numbered_by_position_and_non_strings_refused() -> None:
    result = parse_urls(["a.com", 42, None, "", "a.com", "b.com c.com"])
    assert result.urls == ["https://a.com"]
    assert result.duplicates == 1
    assert [(r.line, r.input, r.reason) for r in result.rejected] == [
        (2, "42", "not a string"),
        (3, "None", "not a string"),
        (4, "", "empty"),
        (6, "b.com c.com", "contains spaces"),
    ]


# --- uploads ---------------------------------------------------------------------------------


def test_csv_uses_the_website_column_wherever_it_is() -> None:
    data = b"Name, Website ,Notes\nAcme,acme.com,x.com\nM\xc3\xbcller,m\xc3\xbcller.de,\n"
    result = parse_upload(data, "companies.csv")
    assert result.urls == ["https://acme.com", "https://xn--mller-kva.de"]
    assert [item.line for item in result.accepted] == [2, 3]


@pytest.mark.parametrize("header", ["url", "URL", "Domain", "website", '"Url"'])
def test_csv_header_names_are_case_insensitive(header: str) -> None:
    data = f"id,{header}\n1,a.com\n2,b.com\n".encode()
    assert parse_upload(data, "x.csv").urls == ["https://a.com", "https://b.com"]


def test_csv_header_is_recognised_without_a_csv_file_name() -> None:
    data = b"name;url\nA;a.com\nB;b.com\n"
    assert parse_upload(data).urls == ["https://a.com", "https://b.com"]


def test_csv_without_a_header_uses_the_first_column() -> None:
    data = b"a.com,Acme\nb.com,Bcme\n\nnot a url,x\n"
    result = parse_upload(data, "list.csv")
    assert result.urls == ["https://a.com", "https://b.com"]
    assert [(r.line, r.input, r.reason) for r in result.rejected] == [
        (4, "not a url", "contains spaces")
    ]


def test_csv_quoted_fields_may_hold_commas_and_newlines() -> None:
    data = (
        b"company,url\r\n"
        b'"Acme, Inc.","https://acme.com/?ids=1,2"\r\n'
        b'"Two\r\nlines",b.com\r\n'
        b'"Cell with space","c.com/a b"\r\n'
    )
    result = parse_upload(data, "x.csv")
    assert [(item.line, item.url) for item in result.accepted] == [
        (2, "https://acme.com/?ids=1,2"),
        (3, "https://b.com"),
    ]
    assert [(r.line, r.reason) for r in result.rejected] == [(5, "contains spaces")]


def test_utf8_bom_is_ignored() -> None:
    data = "\ufeffWebsite\nmüller.de\n".encode()
    assert parse_upload(data, "x.csv").urls == ["https://xn--mller-kva.de"]
    assert parse_upload("\ufeffa.com\n".encode(), "x.txt").urls == ["https://a.com"]


def test_cp1252_file_with_an_idn_is_decoded() -> None:
    data = "name,website\nMüller GmbH,müller.de\nCafé,café.fr\n".encode("cp1252")
    assert parse_upload(data, "export.csv").urls == [
        "https://xn--mller-kva.de",
        "https://xn--caf-dma.fr",
    ]


def test_short_latin1_text_file_is_decoded() -> None:
    assert parse_upload("müller.de\n".encode("latin-1"), "x.txt").urls == [
        "https://xn--mller-kva.de"
    ]


def test_utf16_with_bom_is_decoded() -> None:
    data = "url\r\nmüller.de\r\n".encode("utf-16")
    assert parse_upload(data, "x.csv").urls == ["https://xn--mller-kva.de"]


def test_txt_upload_is_parsed_like_pasted_text() -> None:
    data = b"# list\r\na.com, b.com\r\nc.com\td.com\r\n"
    result = parse_upload(data, "urls.TXT")
    assert result.urls == ["https://a.com", "https://b.com", "https://c.com", "https://d.com"]
    assert [item.line for item in result.accepted] == [2, 2, 3, 3]


def test_unknown_file_without_header_is_parsed_like_text() -> None:
    assert parse_upload(b"a.com b.com\n").urls == ["https://a.com", "https://b.com"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(bytes(range(256)) * 4, id="all-bytes"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), id="png"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00" + random.Random(8).randbytes(200), id="zip"),
        pytest.param(bytes(range(1, 32)) * 20, id="control-chars"),
        pytest.param(random.Random(7).randbytes(4096), id="random"),
    ],
)
def test_binary_garbage_is_an_unreadable_file(data: bytes) -> None:
    with pytest.raises(IntakeError) as caught:
        parse_upload(data, "urls.csv")
    assert caught.value.code == "unreadable_file"
    assert caught.value.status == 400
    assert caught.value.message.startswith("The file could not be read")


def test_a_giant_csv_field_is_an_unreadable_file() -> None:
    with pytest.raises(IntakeError) as caught:
        parse_upload(b"url\n" + b"x" * 200_000 + b"\n", "x.csv")
    assert caught.value.code == "unreadable_file"
    assert "line 2" in caught.value.message


def test_empty_upload_gives_an_empty_result() -> None:
    result = parse_upload(b"", "x.csv")
    assert (result.urls, result.rejected, result.duplicates) == ([], [], 0)


# --- limits ----------------------------------------------------------------------------------


def test_too_many_urls_stops_parsing() -> None:
    with pytest.raises(IntakeError) as caught:
        parse_text("a.com b.com c.com d.com e.com", max_urls=3)
    assert caught.value.code == "too_many_urls"
    assert caught.value.status == 413
    assert caught.value.message == "This batch has more than 3 URLs; the limit is 3."


def test_the_url_limit_counts_unique_valid_urls_only() -> None:
    result = parse_text("a.com a.com bad b.com c.com nope", max_urls=3)
    assert len(result.urls) == 3


def test_too_many_urls_applies_to_lists_and_uploads() -> None:
    with pytest.raises(IntakeError, match="limit is 3"):
        parse_urls(["a.com", "b.com", "c.com", "d.com"], max_urls=3)
    with pytest.raises(IntakeError, match="limit is 3"):
        parse_upload(b"url\na.com\nb.com\nc.com\nd.com\n", "x.csv", max_urls=3)


def test_upload_too_large_is_refused_before_decoding() -> None:
    with pytest.raises(IntakeError) as caught:
        parse_upload(b"\x00" * 11, "x.csv", max_bytes=10)
    assert caught.value.code == "upload_too_large"
    assert caught.value.status == 413
    assert caught.value.message == "The file is 11 bytes; the limit is 10 bytes."


def test_limits_default_to_the_settings(settings) -> None:
    settings.BATCHSITE_MAX_URLS_PER_BATCH = 2
    settings.BATCHSITE_MAX_UPLOAD_BYTES = 5
    with pytest.raises(IntakeError, match="limit is 2"):
        parse_text("a.com b.com c.com")
    with pytest.raises(IntakeError, match="limit is 5 bytes"):
        parse_upload(b"a.com\n")
    assert parse_text("a.com b.com c.com", max_urls=5).urls[-1] == "https://c.com"


# --- results and submissions -----------------------------------------------------------------


def test_as_dict_shape() -> None:
    result = parse_text("a.com\na.com\n" + "\n".join(f"bad{i}" for i in range(5)))
    assert result.as_dict(max_rejected=2) == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [
            {"line": 3, "input": "bad0", "reason": "host needs a dot (e.g. example.com)"},
            {"line": 4, "input": "bad1", "reason": "host needs a dot (e.g. example.com)"},
        ],
        "rejected_count": 5,
    }


def test_as_dict_shortens_huge_inputs() -> None:
    rejection = parse_text("x" * 5000).as_dict()["rejected"][0]
    assert len(rejection["input"]) == 200
    assert rejection["input"].endswith("…")


def test_submission_uses_the_one_source_given() -> None:
    assert parse_submission(text="a.com").urls == ["https://a.com"]
    assert parse_submission(urls=["a.com"], text="").urls == ["https://a.com"]
    assert parse_submission(file=b"url\na.com\n", filename="x.csv").urls == ["https://a.com"]


def test_submission_with_nothing_valid_is_a_result_not_an_error() -> None:
    result = parse_submission(text="# nothing\nftp://x.com")
    assert result.urls == []
    assert len(result.rejected) == 1


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "empty"),
        ({"text": "", "urls": [], "file": b""}, "empty"),
        ({"text": "a.com", "file": b"b.com"}, "ambiguous"),
    ],
)
def test_submission_needs_exactly_one_source(kwargs: dict, code: str) -> None:
    with pytest.raises(IntakeError) as caught:
        parse_submission(**kwargs)
    assert caught.value.code == code
    assert caught.value.status == 400


def test_submission_passes_limits_on() -> None:
    with pytest.raises(IntakeError) as caught:
        parse_submission(file=b"a.com b.com", max_bytes=10)
    assert caught.value.code == "upload_too_large"

"""http_check: is the URL up? Status, redirects, timings, size, TLS.

Any HTTP response is a result (``ok`` is false from 400 up). 429 and 5xx are retried first (with
Retry-After honoured); when no attempt is left the last response is the result.
"""

from __future__ import annotations

from typing import Any

from django import forms

from jobs.fetch import FetchResult, parse_retry_after
from jobs.processors.base import Context, ErrorCode, Item, ItemError, Processor

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class HttpCheckOptions(forms.Form):
    method = forms.ChoiceField(
        choices=[("GET", "GET (downloads the body)"), ("HEAD", "HEAD (headers only)")],
        initial="GET",
        required=False,
        help_text="HEAD is lighter, but some servers answer it differently from GET.",
    )

    def clean_method(self) -> str:
        return self.cleaned_data.get("method") or "GET"


class HttpCheck(Processor):
    name = "http_check"
    label = "HTTP availability check"
    description = (
        "Fetches each URL and records its status code, redirect chain, final URL, timings "
        "(DNS, connect, TTFB, total), size, content type, HTTP and TLS versions."
    )
    steps = ("fetch",)
    options_form = HttpCheckOptions

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        await ctx.step("fetch")
        method = self.options.get("method") or "GET"
        response = await ctx.fetch(item.url, method=method, read_body=method == "GET")
        result = describe(response)
        if response.status in RETRY_STATUSES:
            raise ItemError(
                ErrorCode.HTTP_ERROR,
                f"HTTP {response.status} {response.reason}".strip(),
                retryable=True,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                http_status=response.status,
                result=result,
            )
        return result


def describe(response: FetchResult) -> dict[str, Any]:
    """The http_check result for a response."""
    return {
        "ok": response.status < 400,
        "status_code": response.status,
        "reason": response.reason,
        "final_url": response.final_url,
        "redirects": response.redirects,
        "redirect_count": len(response.redirects),
        "http_version": response.http_version,
        "content_type": response.content_type,
        "content_encoding": response.content_encoding,
        "bytes": response.bytes_body,
        "bytes_wire": response.bytes_wire,
        "remote_ip": response.remote_ip,
        "timings": response.timings,
        "tls": response.tls,
    }

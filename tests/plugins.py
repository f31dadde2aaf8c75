"""Processors that tests register through BATCHSITE_PROCESSORS, as users register their own."""

from __future__ import annotations

import asyncio
import logging
import os

from django import forms

from jobs.processors.base import Context, ErrorCode, Item, ItemError, Processor


class TitleProbe(Processor):
    """Fetches the page, reports its <title> and how many items shared the job's cache."""

    name = "title_probe"
    label = "Title probe (tests)"
    description = "Reads each page's title; a user-written processor in miniature."
    steps = ("fetch", "parse")

    class options_form(forms.Form):
        shout = forms.BooleanField(required=False)

    async def process(self, item: Item, ctx: Context) -> dict:
        await ctx.step("fetch")
        page = await ctx.fetch(item.url)
        if page.status >= 400:
            raise ItemError(ErrorCode.HTTP_ERROR, f"HTTP {page.status}", http_status=page.status)
        await ctx.step("parse")
        text = page.body.decode("utf-8", "replace")
        start, end = text.find("<title>"), text.find("</title>")
        title = text[start + 7 : end] if start >= 0 < end else ""
        if self.options.get("shout"):
            title = title.upper()
        seen = await ctx.cached("first-url", lambda: _value(item.url))
        ctx.log(f"title of {item.url}: {title}", logging.DEBUG)
        return {"title": title, "status_code": page.status, "first_url": seen}


async def _value(value):
    return value


class Sleepy(Processor):
    """Two steps with a pause between them, so a cancel lands between steps."""

    name = "sleepy"
    label = "Sleepy (tests)"
    steps = ("wait", "finish")

    async def process(self, item: Item, ctx: Context) -> dict:
        await ctx.step("wait")
        # A test that must catch items mid-pause on a loaded machine makes it longer.
        await asyncio.sleep(float(os.environ.get("BATCHSITE_TEST_SLEEPY_SECONDS", "0.3")))
        await ctx.step("finish")
        return {"slept": True}


class Broken(Processor):
    """Crashes: a bug in a processor fails its item with PROCESSOR_ERROR, never the runner."""

    name = "broken"
    label = "Broken (tests)"

    async def process(self, item: Item, ctx: Context) -> dict:
        raise ZeroDivisionError("bug in user code")


class Instant(Processor):
    """No I/O at all: every item succeeds at once, so a test measures the pipeline around it."""

    name = "instant"
    label = "Instant (tests)"
    steps = ("done",)

    async def process(self, item: Item, ctx: Context) -> dict:
        return {"ok": True}

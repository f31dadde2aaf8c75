"""The processor API: what a processor is and what the runner gives it.

A processor does the work for one item (one URL). It is a class with a `name`, a `label`, a
`description`, ordered named `steps`, an optional `options_form` (a Django form validated at submit
time) and ``async def process(self, item, ctx)`` returning a JSON-able dict. It never touches the ORM:
everything it needs comes through `item` and `ctx`.

    from django import forms
    from jobs.processors.base import Processor, ItemError

    class TitleLength(Processor):
        name = "title_length"
        label = "Title length"
        description = "Length of each page's <title>."
        steps = ("fetch", "parse")

        class options_form(forms.Form):
            minimum = forms.IntegerField(min_value=0, initial=10)

        async def process(self, item, ctx):
            await ctx.step("fetch")
            page = await ctx.fetch(item.url)
            await ctx.step("parse")
            ...
            return {"length": n, "too_short": n < self.options["minimum"]}

Register it with ``BATCHSITE_PROCESSORS=myapp.processors.TitleLength``. Raise `ItemError(code, ...)`
to fail an item with one of the contract's error codes; `retryable=True` asks for another attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError

from jobs.errors import Cancelled, ErrorCode, ItemError

if TYPE_CHECKING:
    from jobs.fetch import Fetcher, FetchResult

__all__ = ["Cancelled", "Context", "ErrorCode", "Item", "ItemError", "Processor"]


@dataclass(frozen=True, slots=True)
class Item:
    """What a processor sees of an item."""

    id: int
    url: str
    position: int
    attempt: int  # 1 for the first attempt of this run


@dataclass(eq=False)
class Context:
    """What the runner gives a processor for one attempt of one item.

    `cache` is shared by every item of the job in this runner (robots.txt, DNS answers...).
    """

    fetcher: Fetcher
    job_id: str
    options: dict[str, Any]
    cache: dict[str, Any]
    is_cancelled: Callable[[], bool]
    log_sink: Callable[[int, str], None]
    step_name: str = ""
    step_index: int = 0
    steps: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    async def step(self, name: str) -> None:
        """Report the current step; stops the item here when its job is being cancelled."""
        if self.is_cancelled():
            raise Cancelled()
        self.step_name = name
        if name in self.steps:
            self.step_index = self.steps.index(name)

    @property
    def progress(self) -> float:
        if not self.steps:
            return 0.0
        return 100.0 * self.step_index / len(self.steps)

    async def fetch(self, url: str, **kwargs: Any) -> FetchResult:
        return await self.fetcher.fetch(url, **kwargs)

    def log(self, message: str, level: int = logging.INFO) -> None:
        """Write a line to the job's log (kept as a JobLogEntry for this item)."""
        self.log_sink(level, message)

    async def cached(self, key: str, factory: Callable[[], Awaitable[Any]]) -> Any:
        """The value for `key` in the job's cache, computed once by `factory`."""
        if key not in self.cache:
            self.cache[key] = await factory()
        return self.cache[key]


class Processor:
    """Base class of every processor. Subclasses set the class attributes and `process`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    steps: ClassVar[tuple[str, ...]] = ("process",)
    options_form: ClassVar[type[forms.Form] | None] = None

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}

    @classmethod
    def clean_options(cls, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Validate options with the options form; raises ValidationError(dict of field errors)."""
        raw = raw or {}
        if not isinstance(raw, dict):
            raise ValidationError({"options": ["Options must be an object."]})
        if cls.options_form is None:
            if raw:
                raise ValidationError({"options": [f"{cls.name} takes no options."]})
            return {}
        form = cls.options_form(data=raw)
        unknown = set(raw) - set(form.fields)
        if unknown:
            raise ValidationError({name: ["Unknown option."] for name in sorted(unknown)})
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data(escape_html=False))
        return {key: _jsonable(value) for key, value in form.cleaned_data.items()}

    async def setup(self, ctx: Context) -> None:
        """Called once per runner before the first item (open shared resources here)."""

    async def process(self, item: Item, ctx: Context) -> dict[str, Any]:
        raise NotImplementedError


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)

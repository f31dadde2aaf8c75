"""Which processors exist: the built-in ones plus those named in settings.BATCHSITE_PROCESSORS."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from jobs.processors.base import Processor

BUILTIN = (
    "jobs.processors.http_check.HttpCheck",
    "jobs.processors.page_audit.PageAudit",
    "jobs.processors.site_profile.SiteProfile",
)


class UnknownProcessor(LookupError):
    pass


@cache
def _registry(extra: tuple[str, ...]) -> dict[str, type[Processor]]:
    found: dict[str, type[Processor]] = {}
    for path in (*BUILTIN, *extra):
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"BATCHSITE_PROCESSORS: cannot import {path}: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Processor)) or not cls.name:
            raise ImproperlyConfigured(f"{path} is not a Processor subclass with a name")
        if cls.name in found and found[cls.name] is not cls:
            raise ImproperlyConfigured(f"Two processors are named {cls.name!r}")
        found[cls.name] = cls
    return found


def processors() -> dict[str, type[Processor]]:
    """Every registered processor by name, built-ins first."""
    return _registry(tuple(settings.BATCHSITE_PROCESSORS))


def get_processor(name: str) -> type[Processor]:
    try:
        return processors()[name]
    except KeyError:
        known = ", ".join(sorted(processors()))
        raise UnknownProcessor(f"Unknown processor {name!r}; choose one of: {known}.") from None

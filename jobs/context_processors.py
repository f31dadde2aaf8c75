"""What every page's layout needs: the theme, the product version, the live-events address."""

from __future__ import annotations

import tomllib
from importlib import metadata

from django.conf import settings
from django.http import HttpRequest

THEMES = ("light", "dark", "system")


def _version() -> str:
    try:
        return metadata.version("batchsite")
    except metadata.PackageNotFoundError:  # run from the checkout (uv does not install the project)
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"]


VERSION = _version()


def layout(request: HttpRequest) -> dict:
    theme = request.COOKIES.get("theme", "system")
    return {
        "theme": theme if theme in THEMES else "system",
        "version": VERSION,
    }

"""The OpenAPI document: valid, complete (every route under /api/), and its docs pages served from
vendored assets only."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from jobs.routing import sse_urlpatterns

pytestmark = pytest.mark.django_db

# Routes under /api/ that are the documentation itself, not the API it documents.
DOC_ROUTES = {"/api/schema/", "/api/docs/"}
IGNORED_METHODS = {"options", "head", "trace"}
CDN_MARKERS = ("https://cdn", "http://cdn", "unpkg", "jsdelivr", "cdnjs", "googleapis")


def openapi_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def api_routes() -> dict[str, set[str]]:
    """Every URL under /api/ as an OpenAPI path ('{job_id}'), with the methods its view answers:
    Django's URLconf, and the event streams routed ahead of it in batchsite/asgi.py."""
    routes: dict[str, set[str]] = {
        openapi_path(str(pattern.pattern)): {"get"} for pattern in sse_urlpatterns
    }

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/"):
                path = openapi_path(route)
                cls = getattr(pattern.callback, "cls", None) or getattr(
                    pattern.callback, "view_class", None
                )
                methods = {
                    m
                    for m in getattr(cls, "http_method_names", ())
                    if m not in IGNORED_METHODS and hasattr(cls, m)
                }
                routes[path] = methods

    walk(get_resolver().url_patterns, "")
    return {path: methods for path, methods in routes.items() if path not in DOC_ROUTES}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_validates_without_a_single_warning(tmp_path):
    # --fail-on-warn raises on any warning or error (an undescribed view, an unknown
    # authenticator, a colliding operationId); --validate checks it against the OpenAPI spec.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").stat().st_size > 1000


def test_every_url_under_api_is_in_the_schema_with_every_method(schema):
    routes = api_routes()
    assert {"/api/jobs", "/api/jobs/{job_id}/events"} <= set(routes), "the walk found the API"
    missing = {
        f"{method.upper()} {path}"
        for path, methods in routes.items()
        for method in methods
        if method not in schema["paths"].get(path, {})
    }
    assert not missing, f"not in the schema: {sorted(missing)}"


def test_every_operation_describes_its_errors_with_a_body(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if operation.get("security") != [{}]:
                assert "401" in responses, where
            if "{job_id}" in path:
                assert "404" in responses, where
                (job_id,) = [p for p in operation["parameters"] if p["name"] == "job_id"]
                assert job_id["schema"]["format"] == "uuid"
            if method in ("post", "put", "patch", "delete") and operation.get("security") != [{}]:
                assert "403" in responses, where
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert "application/json" in response.get("content", {}), (where, status)


def test_the_contract_errors_are_where_the_contract_puts_them(schema):
    jobs = schema["paths"]["/api/jobs"]
    assert {"400", "401"} <= set(jobs["get"]["responses"])
    assert {"201", "400", "401", "403", "413", "429"} <= set(jobs["post"]["responses"])
    assert "Retry-After" in jobs["post"]["responses"]["429"]["headers"]
    assert "409" in schema["paths"]["/api/jobs/{job_id}/cancel"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/jobs/{job_id}"]["delete"]["responses"]
    errors = schema["components"]["schemas"]["InvalidParameters"]
    assert set(errors["properties"]) == {"detail", "errors"}


def test_bearer_keys_are_a_security_scheme_so_authorize_works(schema):
    bearer = schema["components"]["securitySchemes"]["bearerAuth"]
    assert bearer["type"] == "http"
    assert bearer["scheme"] == "bearer"
    assert {"bearerAuth": []} in schema["paths"]["/api/jobs"]["get"]["security"]


def test_the_docs_page_loads_only_vendored_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    for marker in CDN_MARKERS:
        assert marker not in html, marker
    assert not re.search(r"https?://", html), "no absolute URL at all: nothing leaves the site"
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html)
    assert assets, "the page loads its scripts from /static/"
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        body = b"".join(answer.streaming_content) if answer.streaming else answer.content
        assert body, asset

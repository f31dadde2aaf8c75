"""Every URL pattern asks for a login; every form carries a CSRF token and every POST without
one is refused; no rendered page has an inline script, style or event handler (the CSP would
block them); cookies are Secure, HttpOnly and SameSite as they should be in production."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from jobs.account import keys, webhooks
from jobs.models import AuditEntry, BatchJob, DeliveryAttempt, WebhookDelivery
from tests.conftest import ROOT, subprocess_env
from tests.security.test_roles import finished_job, running_job

pytestmark = pytest.mark.django_db

# Answer anonymous visitors on purpose: signing in and out, the health probe, the icon, and the
# API's description (OpenAPI schema and its Swagger UI: what the API accepts, never any data;
# DESIGN.md publishes them for scripts and their authors, and tests/api reads them anonymously).
PUBLIC = {
    "accounts/login/",
    "accounts/logout/",
    "admin/login/",
    "admin/logout/",
    "api/health",
    "api/schema/",
    "api/docs/",
    "favicon.ico",
}
SAMPLES = {
    "int": "1",
    "uuid": "3f1c0b8e-8f53-4c3c-9e55-0c1d1f0e2a11",
    "str": "x",
    "path": "x/y",
    "slug": "x",
}


def route_paths(patterns=None, prefix: str = "") -> list[str]:
    """Every URL pattern of the project as a concrete path (parameters given sample values)."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found += route_paths(entry.url_patterns, prefix + _concrete(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append(prefix + _concrete(entry.pattern))
    return sorted(set(found))


def _concrete(pattern) -> str:
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)  # a named group: a number fits them all
        text = re.sub(r"\((?!\?)[^)]*\)\??", "", text)  # optional unnamed groups
        return text.replace("^", "").replace("$", "").replace("/?", "/").replace("\\", "")
    return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], text)


PATHS = route_paths()


def test_the_walk_finds_every_part_of_the_site():
    for expected in ("jobs/actions", "settings/audit", "api/cleanup", "admin/", "django-rq/"):
        assert expected in PATHS
    assert len(PATHS) > 80


def test_every_url_refuses_anonymous_visitors(client):
    """GET and POST to every pattern: a redirect to a login page, or a refusal; never a page."""
    wrong = []
    for path in (p for p in PATHS if p not in PUBLIC):
        for method in ("get", "post"):
            response = getattr(client, method)("/" + path)
            status = response.status_code
            if status in (301, 302):
                target = response["Location"]
                slash = target.rstrip("/") + "/" == "/" + path.rstrip("/") + "/"  # APPEND_SLASH
                if "login" not in target and not slash:
                    wrong.append((method, path, status, target))
            elif status not in (401, 403, 404, 405):
                wrong.append((method, path, status))
    assert not wrong


def test_the_public_urls_hold_no_user_data(client, alice):
    running_job(alice)
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/api/health").status_code in (200, 503)
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    assert "alice" not in schema.content.decode()
    assert "alice-running" not in client.get("/api/docs/").content.decode()


# --- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def furnished(alice, site):
    """alice with something on every page: jobs, a key, a webhook with a delivery attempt."""
    done, running = finished_job(alice), running_job(alice)
    key, _ = keys.create_key(alice, "ci", "full")
    hook, _ = webhooks.create_webhook(
        alice,
        url=site.url("/ok/hook"),
        events=["job_completed"],
        max_attempts=3,
        backoff_base=10,
        backoff_max=60,
    )
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="test", payload={}, created_at=now, next_attempt_at=now
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, webhook=hook, number=1, started_at=now, http_status=500, error="boom"
    )
    item = done.items.get()
    return {
        "done": done,
        "running": running,
        "key": key,
        "hook": hook,
        "item": item,
        "delivery": delivery,
    }


def pages_of(furnished) -> list[str]:
    done, hook = furnished["done"], furnished["hook"]
    return [
        "/",
        "/dashboard/panels",
        "/jobs",
        "/jobs?status=failed&search=%3Cscript%3E",
        "/jobs/new",
        f"/jobs/{done.pk}",
        f"/jobs/{furnished['running'].pk}",
        f"/jobs/{done.pk}/insights",
        f"/jobs/{done.pk}/items",
        f"/jobs/{done.pk}/items/{furnished['item'].pk}",
        f"/jobs/{done.pk}/failures/http",
        f"/jobs/{done.pk}/failures/host",
        "/notifications",
        "/settings",
        "/settings/audit",
        "/settings/webhooks/new",
        f"/settings/webhooks/{hook.pk}",
        f"/settings/webhooks/{hook.pk}/log",
    ]


class PageScan(HTMLParser):
    """Collects post forms (with whether they carry a CSRF token) and any inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.inline: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.inline.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.inline.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.inline.append("<style> element")
        if tag == "script":
            self._script = attributes
        if tag == "form" and (attributes.get("method") or "get").lower() == "post":
            self.forms.append({"action": attributes.get("action"), "csrf": False})
        if (
            tag == "input"
            and attributes.get("name") == "csrfmiddlewaretoken"
            and self.forms
            and attributes.get("value")
        ):
            self.forms[-1]["csrf"] = True

    def handle_data(self, data):
        script = self._script
        code = (
            script is not None and "src" not in script and script.get("type") != "application/json"
        )
        if code and data.strip():
            self.inline.append(f"<script> with code: {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def scan(html: str) -> PageScan:
    parser = PageScan()
    parser.feed(html)
    return parser


def test_every_form_posts_a_csrf_token_and_no_page_has_inline_code(alice, furnished):
    client = Client()
    client.force_login(alice)
    forms = 0
    for path in pages_of(furnished):
        response = client.get(path)
        assert response.status_code == 200, path
        found = scan(response.content.decode())
        assert not found.inline, (path, found.inline)
        assert all(form["csrf"] for form in found.forms), (path, found.forms)
        forms += len(found.forms)
    confirm = client.post(reverse("settings-key-revoke", args=[furnished["key"].pk]))
    found = scan(confirm.content.decode())
    assert found.forms
    assert all(form["csrf"] for form in found.forms)
    assert not found.inline
    assert forms >= 10


@pytest.mark.parametrize(
    "path",
    ["/accounts/login/", "/this-is-not-a-page", "/jobs/3f1c0b8e-8f53-4c3c-9e55-0c1d1f0e2a11"],
)
def test_the_login_and_error_pages_have_no_inline_code(client, alice, path):
    if not path.startswith("/accounts"):
        client.force_login(alice)
    assert not scan(client.get(path).content.decode()).inline


def test_the_lockout_page_has_no_inline_code(client, alice):
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 429
    assert not scan(response.content.decode()).inline


def test_the_scanner_finds_inline_code():
    page = (
        '<form method="post"><input name="x"></form><div style="color:red" onclick="go()">'
        "<script>alert(1)</script><style>p{}</style>"
        '<script type="application/json" id="d">{"a": 1}</script><a href="javascript:x()">x</a>'
    )
    found = scan(page)
    assert len(found.inline) == 5
    assert found.forms == [{"action": None, "csrf": False}]


POST_PATHS = [p for p in PATHS if not p.startswith(("admin/", "django-rq/")) and p not in PUBLIC]


def test_a_signed_in_post_without_the_csrf_token_is_refused(alice, furnished):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    accepted = []
    for path in POST_PATHS:
        real = (
            path.replace(SAMPLES["uuid"], str(furnished["done"].pk))
            .replace("webhooks/1", f"webhooks/{furnished['hook'].pk}")
            .replace("keys/1", f"keys/{furnished['key'].pk}")
        )
        response = client.post("/" + real, {"action": "cancel", "confirm": "yes"})
        if response.status_code != 403:
            accepted.append((real, response.status_code))
    assert not accepted
    assert BatchJob.objects.filter(pk=furnished["done"].pk).exists(), "not deleted"
    assert not AuditEntry.objects.exclude(action__in=["key.create", "webhook.create"]).exists()


def test_an_admin_post_without_the_csrf_token_is_refused(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post(reverse("admin:jobs_batchjob_changelist")).status_code == 403


# --- cookies in production --------------------------------------------------------------------

COOKIE_SETTINGS = """
import django, json
django.setup()
from django.conf import settings as s
print(json.dumps({n: getattr(s, n) for n in (
    "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE", "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS")}))
"""


def production_settings(**env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", COOKIE_SETTINGS],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="batchsite.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cookies_are_secure_http_only_and_same_site_in_production():
    found = production_settings(DJANGO_DEBUG="0", DJANGO_HTTPS="1")
    assert found == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
    }


def test_the_login_response_sets_the_production_cookie_flags(client, alice, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    page = client.get("/accounts/login/", secure=True)
    csrf = page.cookies["csrftoken"]
    assert csrf["secure"]
    assert csrf["samesite"] == "Lax"
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "alice-pass-123"}, secure=True
    )
    session = response.cookies["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"

"""The layout every page shares: login required, navigation, theme from the cookie, the bell."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.models import JobStatus
from jobs.services import submit_batch

pytestmark = pytest.mark.django_db

PAGES = ["dashboard", "job-list", "job-new"]


@pytest.mark.parametrize("name", [*PAGES, "notifications"])
def test_every_page_asks_for_a_login_first(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", PAGES)
def test_the_layout_has_navigation_search_and_the_connection_indicator(client, alice, name):
    client.force_login(alice)
    page = client.get(reverse(name)).content.decode()
    for link in ("/jobs", "/jobs/new", 'role="search"', 'id="conn"', "js/live.js"):
        assert link in page
    assert 'aria-current="page"' in page
    assert "alice" in page


def test_the_theme_comes_from_the_cookie_so_the_first_paint_is_right(client, alice):
    client.force_login(alice)
    client.cookies["theme"] = "dark"
    assert '<html lang="en" data-theme="dark">' in client.get("/").content.decode()
    client.cookies["theme"] = "<script>"
    assert "data-theme" not in client.get("/").content.decode().split(">", 2)[1]


@pytest.mark.django_db(transaction=True)
def test_the_bell_lists_my_finished_jobs_only(client, alice, bob, site, burst_worker):
    mine = submit_batch(alice, urls=[site.url("/ok")], name="alice's batch").job
    theirs = submit_batch(bob, urls=[site.url("/ok")], name="bob's batch").job
    burst_worker()
    for job in (mine, theirs):
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
    client.force_login(alice)
    panel = client.get(reverse("notifications")).content.decode()
    assert "“alice&#x27;s batch” completed" in panel
    assert "bob" not in panel

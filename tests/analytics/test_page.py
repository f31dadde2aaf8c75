"""The /analytics page: in the layout with its sidebar link current, the range and processor
form, every chart card with its CSV link and its "no data" text; a bad parameter says what was
wrong and shows the default range (400); signed-out visitors go to the login page."""

from __future__ import annotations

import pytest

from analytics.charts import CHARTS

pytestmark = pytest.mark.django_db


def test_the_page_has_every_chart_and_its_csv_link(alice_client):
    response = alice_client.get("/analytics?range=7d&processor=http_check")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/analytics" aria-current="page"' in html
    assert "Your figures" in html
    for name in CHARTS:
        assert f'data-chart-card="{name}"' in html
        assert (
            f"/api/analytics/charts/{name}?range=7d&amp;processor=http_check&amp;format=csv" in html
        )
    assert 'data-overview-url="/api/analytics/overview?range=7d&amp;processor=http_check"' in html
    assert "Start a batch from New batch" in html
    assert '<option value="7d" selected>' in html


def test_staff_see_everyones_figures(staff):
    from django.test import Client

    client = Client()
    client.force_login(staff)
    assert "Every user's figures" in client.get("/analytics").content.decode()


def test_a_bad_parameter_is_explained_and_the_default_range_shown(alice_client):
    response = alice_client.get("/analytics?range=1y")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<strong>range</strong>: Invalid value" in html
    assert "Showing the last 24 hours instead." in html
    assert 'data-overview-url="/api/analytics/overview?"' in html


def test_signed_out_visitors_are_sent_to_log_in(client):
    response = client.get("/analytics")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

"""GET /api/analytics/overview and /api/analytics/charts/{name}: users see their own figures
and staff everyone's; bad parameters answer 400 naming each one; every chart downloads as CSV;
the endpoints are in the OpenAPI document."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from analytics.charts import CHARTS
from tests.analytics.seed import seed_figures

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_alice_sees_her_figures(alice, alice_client):
    seed_figures(alice)
    body = alice_client.get("/api/analytics/overview?range=24h").json()
    kpis = body["kpis"]
    assert (kpis["items"], kpis["succeeded"], kpis["failed"]) == (120, 108, 12)
    assert kpis["success_rate"] == 90.0
    assert kpis["api_requests"] == 33
    assert (kpis["webhook_attempts"], kpis["webhook_success_rate"]) == (6, 50.0)
    assert body["window"]["point"] == "hour"
    assert len(body["charts"]["success_rate"]) in (24, 25)
    assert body["charts"]["error_codes"] == [{"error_code": "TIMEOUT", "items": 12}]
    assert set(body["charts"]) == set(CHARTS)


def test_bob_sees_none_of_alices_figures_and_staff_sees_everyones(alice, bob, staff, bob_client):
    seed_figures(alice)
    seed_figures(bob, items=10, failed=0)
    bob_kpis = bob_client.get("/api/analytics/overview").json()["kpis"]
    assert (bob_kpis["items"], bob_kpis["failed"], bob_kpis["api_requests"]) == (30, 0, 33)
    assert bob_client.get("/api/analytics/charts/error_codes").json()["rows"] == []
    staff_kpis = client_for(staff).get("/api/analytics/overview").json()["kpis"]
    assert (staff_kpis["items"], staff_kpis["failed"]) == (150, 12)


def test_a_processor_filter_narrows_the_figures(alice, alice_client):
    seed_figures(alice, items=10, failed=0, processor="page_audit")
    seed_figures(alice, items=20, failed=0)
    kpis = alice_client.get("/api/analytics/overview?processor=page_audit").json()["kpis"]
    assert kpis["items"] == 30


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("range=1y", {"range"}),
        ("processor=nope", {"processor"}),
        ("range=custom", {"start"}),
        ("range=custom&start=yesterday", {"start"}),
        ("range=custom&start=2026-05-01&end=2026-04-01", {"start"}),
        ("range=custom&start=2020-01-01&end=2026-01-01", {"start"}),
        ("range=2d&processor=nope", {"range", "processor"}),
    ],
)
def test_bad_parameters_answer_400_naming_each(alice_client, query, bad):
    for url in (f"/api/analytics/overview?{query}", f"/api/analytics/charts/throughput?{query}"):
        response = alice_client.get(url)
        assert response.status_code == 400
        body = response.json()
        assert body["detail"] == "Invalid query parameters."
        assert set(body["errors"]) == bad
        assert all({"message", "accepts"} <= set(e) for e in body["errors"].values())


def test_a_bad_format_is_a_400_and_an_unknown_chart_a_404(alice_client):
    response = alice_client.get("/api/analytics/charts/throughput?format=xml")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"format"}
    assert alice_client.get("/api/analytics/charts/nope").status_code == 404


def test_a_custom_range_reads_days(alice, alice_client):
    seed_figures(alice)
    response = alice_client.get("/api/analytics/overview?range=custom&start=2026-01-01")
    assert response.status_code == 200
    assert response.json()["window"]["point"] == "day"
    assert response.json()["kpis"]["items"] == 120


def test_every_chart_downloads_as_csv(alice, alice_client):
    seed_figures(alice)
    for name, chart in CHARTS.items():
        response = alice_client.get(f"/api/analytics/charts/{name}?range=7d&format=csv")
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/csv")
        assert f"analytics-{name}-7d.csv" in response["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert tuple(rows[0].keys() if rows else chart.columns) == chart.columns
    rows = list(
        csv.DictReader(
            io.StringIO(
                alice_client.get("/api/analytics/charts/error_codes?format=csv").content.decode()
            )
        )
    )
    assert rows == [{"error_code": "TIMEOUT", "items": "12"}]


def test_signed_out_requests_are_refused(client):
    assert client.get("/api/analytics/overview").status_code in (401, 403)


def test_the_endpoints_are_in_the_openapi_schema(alice_client):
    schema = alice_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "/api/analytics/overview" in paths
    chart = paths["/api/analytics/charts/{name}"]["get"]
    assert {"range", "start", "end", "processor", "format"} <= {
        p["name"] for p in chart["parameters"]
    }
    assert "400" in chart["responses"]


def test_query_counts_do_not_grow_with_the_items_counted(alice, alice_client, settings):
    settings.BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = (
        0  # each request writes its timing: the same count
    )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from analytics.record import record_items
    from tests.analytics.seed import outcomes

    def queries_for_overview() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get("/api/analytics/overview?range=7d").status_code == 200
        return len(queries)

    record_items(alice.pk, "http_check", outcomes(10_000, timezone.now(), failed=100))
    small = queries_for_overview()
    record_items(alice.pk, "http_check", outcomes(90_000, timezone.now(), failed=900))
    assert alice_client.get("/api/analytics/overview?range=7d").json()["kpis"]["items"] == 100_000
    assert queries_for_overview() == small

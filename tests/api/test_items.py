"""GET /api/jobs/{id}/items: filters, orderings, keyset pages in both directions, 400s."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from jobs import store
from jobs.api.item_views import ITEM_FIELDS, ORDERINGS
from jobs.models import (
    AttemptOutcome,
    BatchJob,
    ItemAttempt,
    ItemStatus,
)
from tests.api.seed import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(alice) -> BatchJob:
    """500 items: every third succeeded (200), failed (TIMEOUT, 504) or still queued (no
    duration, no finish time). Durations repeat, so orderings need the position tie-break.
    Written the way runners write them: claimed, then outcomes recorded, the rest released."""
    job = make_job(alice, 500)
    now = timezone.now()
    start = now - timedelta(hours=1)
    claimed = store.claim(job.pk, "seed", 500, now)
    outcomes = [
        store.Outcome(
            id=item.id,
            status=ItemStatus.SUCCEEDED if item.position % 3 == 0 else ItemStatus.FAILED,
            step="fetch",
            progress=100.0,
            attempts=1,
            result={
                "ok": item.position % 3 == 0,
                "status_code": 200 if item.position % 3 == 0 else 504,
            },
            error="" if item.position % 3 == 0 else "timed out",
            error_code="" if item.position % 3 == 0 else "TIMEOUT",
            http_status=200 if item.position % 3 == 0 else 504,
            started_at=start,
            finished_at=start + timedelta(seconds=(item.position * 13) % 97),
            duration=(item.position * 7 % 40) / 8,
        )
        for item in claimed
        if item.position % 3 != 2
    ]
    store.record_outcomes(outcomes, "seed")
    store.release([item.id for item in claimed if item.position % 3 == 2], "seed")
    return job


def items_url(job, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/jobs/{job.pk}/items" + (f"?{query}" if query else "")


def follow(client, url: str, link: str = "next") -> list[list[dict]]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append(body["items"])
        url = body[link]
    return pages


def expected_order(job, ordering: str) -> list[int]:
    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    items = list(job.items.all())
    done = [i for i in items if getattr(i, field) is not None]
    done.sort(key=lambda i: (getattr(i, field), i.position), reverse=descending)
    waiting = sorted((i for i in items if getattr(i, field) is None), key=lambda i: i.position)
    return [i.position for i in done + waiting]


def test_an_items_page_has_the_contract_shape(api, varied):
    body = api.get(items_url(varied)).json()
    assert set(body) == {"items", "next", "previous"}
    assert len(body["items"]) == 50
    assert list(body["items"][0]) == list(ITEM_FIELDS)
    assert [i["position"] for i in body["items"]] == list(range(50))
    assert body["items"][0]["result"] == {"ok": True, "status_code": 200}
    assert body["previous"] is None
    assert urlsplit(body["next"]).path == f"/api/jobs/{varied.pk}/items"


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_cursor_pages_visit_every_item_exactly_once_in_order(api, varied, ordering):
    pages = follow(api, items_url(varied, ordering=ordering, limit=37))
    assert [len(page) for page in pages] == [37] * 13 + [19]
    positions = [item["position"] for page in pages for item in page]
    assert positions == expected_order(varied, ordering)
    # And back: `previous` from the last page gives the same pages, newest first.
    last = api.get(items_url(varied, ordering=ordering, limit=37))
    url = last.json()["next"]
    while True:
        body = api.get(url).json()
        if not body["next"]:
            break
        url = body["next"]
    backwards = follow(api, body["previous"], link="previous")
    assert [body["items"], *backwards] == list(reversed(pages))


def test_the_first_page_reached_backwards_links_to_the_start(api, varied):
    second = api.get(api.get(items_url(varied, limit=10)).json()["next"]).json()
    first = api.get(second["previous"]).json()
    assert [i["position"] for i in first["items"]] == list(range(10))
    assert first["previous"] is None
    assert api.get(first["next"]).json()["items"] == second["items"]


def test_filters_combine_and_page(api, varied):
    def positions(**params):
        pages = follow(api, items_url(varied, limit=25, **params))
        return [item["position"] for page in pages for item in page]

    assert positions(status="failed") == list(range(1, 500, 3))
    assert positions(status="succeeded,queued") == [p for p in range(500) if p % 3 != 1]
    assert positions(error_code="TIMEOUT") == list(range(1, 500, 3))
    assert positions(http_status=200) == list(range(0, 500, 3))
    assert positions(search="site3.example/page/1") == [
        p for p in range(500) if p % 7 == 3 and str(p).startswith("1")
    ]
    assert (
        positions(status="failed", ordering="-duration")[:3]
        == [p for p in expected_order(varied, "-duration") if p % 3 == 1][:3]
    )
    assert positions(http_status=404) == []


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"status": "done"}, "status"),
        ({"status": "failed,nope"}, "status"),
        ({"error_code": "OOPS"}, "error_code"),
        ({"http_status": "abc"}, "http_status"),
        ({"http_status": "99"}, "http_status"),
        ({"http_status": "600"}, "http_status"),
        ({"ordering": "url"}, "ordering"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"include": "steps"}, "include"),
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "WzEsMiwzXQ"}, "cursor"),  # valid base64 JSON, not a cursor
        ({"search": "x" * 201}, "search"),
    ],
)
def test_each_invalid_item_parameter_is_a_400_naming_it(api, alice, params, bad):
    response = api.get(items_url(make_job(alice, 3), **params))
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid query parameters."
    assert set(body["errors"]) == {bad}
    assert body["errors"][bad]["message"]
    assert body["errors"][bad]["accepts"]


def test_a_cursor_only_works_with_the_ordering_it_came_from(api, varied):
    next_url = api.get(items_url(varied, ordering="duration")).json()["next"]
    (cursor,) = parse_qs(urlsplit(next_url).query)["cursor"]
    response = api.get(items_url(varied, ordering="-finished_at", cursor=cursor))
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"cursor"}
    assert api.get(items_url(varied, ordering="duration", cursor=cursor)).status_code == 200


def test_every_bad_item_parameter_is_named_at_once(api, alice):
    body = api.get(items_url(make_job(alice, 3), status="x", limit="y", ordering="z")).json()
    assert set(body["errors"]) == {"status", "limit", "ordering"}
    assert "succeeded" in body["errors"]["status"]["accepts"]


def test_limit_defaults_to_50_and_is_clamped_to_200(api, varied):
    assert len(api.get(items_url(varied)).json()["items"]) == 50
    assert len(api.get(items_url(varied, limit=1000)).json()["items"]) == 200


def add_attempts(job, per_item: int = 2) -> None:
    now = timezone.now()
    ItemAttempt.objects.bulk_create(
        ItemAttempt(
            item_id=item_id,
            number=n,
            started_at=now,
            finished_at=now,
            step="fetch",
            outcome=AttemptOutcome.RETRY if n < per_item else AttemptOutcome.FAILED,
            error_code="TIMEOUT",
            duration=0.5,
        )
        for item_id in job.items.values_list("id", flat=True)
        for n in range(per_item, 0, -1)  # stored out of order on purpose
    )


def test_include_attempts_adds_each_items_history_in_order(api, varied):
    add_attempts(varied)
    items = api.get(items_url(varied, include="attempts", limit=3)).json()["items"]
    history = items[0]["attempt_history"]
    assert [a["number"] for a in history] == [1, 2]
    assert [a["outcome"] for a in history] == ["retry", "failed"]
    assert set(history[0]) >= {"number", "outcome", "step", "error_code", "duration", "started_at"}
    assert "attempt_history" not in api.get(items_url(varied, limit=3)).json()["items"][0]


@pytest.mark.parametrize("ordering", ["position", "-finished_at"])
def test_an_items_page_costs_the_same_queries_whatever_its_size(
    api, varied, ordering, django_assert_max_num_queries
):
    add_attempts(varied)
    # The job, the rows (one query per zone: set, then unset finish times), the attempts.
    for limit in (5, 200):
        with django_assert_max_num_queries(4):
            body = api.get(items_url(varied, include="attempts", limit=limit, ordering=ordering))
        assert len(body.json()["items"]) == limit

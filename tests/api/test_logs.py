"""GET /api/jobs/{id}/logs: oldest first, level and search filters, the after_id cursor."""

from __future__ import annotations

import pytest

from jobs.models import (
    BatchJob,
    JobLogEntry,
    LogLevel,
)
from tests.api.seed import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(alice) -> tuple[BatchJob, list[JobLogEntry]]:
    job = make_job(alice, 3)
    item = job.items.get(position=1)
    levels = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR] * 3
    entries = [
        JobLogEntry.objects.create(
            job=job,
            level=level,
            message=f"line {n} {'timeout' if level == LogLevel.ERROR else 'fine'}",
            item=item if level >= LogLevel.WARNING else None,
        )
        for n, level in enumerate(levels)
    ]
    return job, entries


def logs(client, job, **params):
    return client.get(f"/api/jobs/{job.pk}/logs", params)


def test_logs_answer_oldest_first_with_the_contract_shape(api, logged):
    job, entries = logged
    body = logs(api, job).json()
    assert set(body) == {"logs", "last_id"}
    assert [e["id"] for e in body["logs"]] == [e.id for e in entries]
    assert body["last_id"] == entries[-1].id
    first, warning = body["logs"][0], body["logs"][2]
    assert set(first) == {"id", "timestamp", "level", "message", "item", "url"}
    assert (first["level"], first["item"], first["url"]) == ("debug", None, None)
    item = job.items.get(position=1)
    assert (warning["level"], warning["item"], warning["url"]) == ("warning", item.id, item.url)


def test_after_id_returns_only_newer_entries_and_last_id_is_the_next_cursor(api, logged):
    job, entries = logged
    body = logs(api, job, after_id=entries[4].id, limit=3).json()
    assert [e["id"] for e in body["logs"]] == [e.id for e in entries[5:8]]
    assert body["last_id"] == entries[7].id
    rest = logs(api, job, after_id=body["last_id"]).json()
    assert [e["id"] for e in rest["logs"]] == [e.id for e in entries[8:]]
    nothing_new = logs(api, job, after_id=rest["last_id"]).json()
    assert nothing_new == {"logs": [], "last_id": rest["last_id"]}


def test_level_keeps_that_level_and_above_and_search_matches_messages(api, logged):
    job, _ = logged
    levels = [e["level"] for e in logs(api, job, level="warning").json()["logs"]]
    assert levels == ["warning", "error"] * 3
    found = logs(api, job, search="TIMEOUT").json()["logs"]
    assert [e["level"] for e in found] == ["error"] * 3
    assert logs(api, job, level="error", search="fine").json()["logs"] == []


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"level": "critical"}, "level"),
        ({"after_id": "-1"}, "after_id"),
        ({"after_id": "x"}, "after_id"),
        ({"after_id": str(2**70)}, "after_id"),
        ({"limit": "0"}, "limit"),
        ({"search": "\x00"}, "search"),
    ],
)
def test_each_invalid_log_parameter_is_a_400_naming_it(api, logged, params, bad):
    response = logs(api, logged[0], **params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {bad}


def test_log_limit_is_clamped_to_1000(api, alice):
    job = make_job(alice, 1)
    JobLogEntry.objects.bulk_create(JobLogEntry(job=job, message=str(n)) for n in range(1005))
    assert len(logs(api, job).json()["logs"]) == 100
    assert len(logs(api, job, limit=5000).json()["logs"]) == 1000

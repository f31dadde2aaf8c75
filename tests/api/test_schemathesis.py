"""schemathesis against the live schema: every operation, fuzzed with valid requests through the
real Django app in this process, over the test database with seeded jobs, as alice with an API key.
No 5xx, and every answer (status code, content type, body) is what the schema says.

Django runs as a WSGI app in this thread (schemathesis' `from_wsgi`), so it sees the test's
database transaction. Every example runs in a savepoint that is rolled back: a DELETE or cancel
does not take the seeded jobs away from the examples after it, and nothing it enqueues on commit
ever reaches Redis.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.throttling import ScopedRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobs.models import (
    ApiKey,
    BatchJob,
    ItemAttempt,
    ItemStatus,
    JobItem,
    JobLogEntry,
    JobStatus,
    LogLevel,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.timeout(180)]

# Per operation: the whole run stays well under two minutes. A deeper run, by hand:
# SCHEMATHESIS_EXAMPLES=500 SCHEMATHESIS_MODE=negative pytest tests/api/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES") or 25)
MODE = GenerationMode(os.environ.get("SCHEMATHESIS_MODE") or "positive")


def no_server_error(ctx, response, case):
    """`not_a_server_error`, except the health check's documented 503: no worker or scheduler
    runs during this test, and saying so is that endpoint's job."""
    if response.status_code == 503 and case.operation.path.endswith("/health"):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_process_django():
    """A WSGI handler that leaves the test's connection alone, as Django's test client does:
    request_finished would otherwise close it in the middle of the test transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(monkeypatch):
    # The rate limit has its own tests; here a 429 would only hide the submit operation.
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "submit": "100000/minute"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)


def seed_job(owner, status: str, n_items: int, **fields) -> BatchJob:
    now = timezone.now()
    finished = status in JobStatus.TERMINAL
    job = BatchJob.objects.create(
        owner=owner,
        name=f"{status} job",
        status=status,
        started_at=None if status in (JobStatus.PENDING, JobStatus.QUEUED) else now,
        finished_at=now + timedelta(seconds=5) if finished else None,
        **fields,
    )
    statuses = [ItemStatus.SUCCEEDED, ItemStatus.FAILED] if finished else [ItemStatus.QUEUED]
    items = JobItem.objects.bulk_create(
        JobItem(
            job=job,
            position=i,
            url=f"https://example.com/page/{i}",
            input=f"example.com/page/{i}",
            status=statuses[i % len(statuses)],
            attempts=1 if finished else 0,
            result={"ok": True, "status_code": 200, "title": f"Page {i}"} if i % 2 == 0 else None,
            error="" if i % 2 == 0 else "connection refused",
            error_code="" if i % 2 == 0 else "CONNECTION_ERROR",
            http_status=200 if i % 2 == 0 else None,
            started_at=now if finished else None,
            finished_at=now if finished else None,
            duration=0.25 if finished else None,
        )
        for i in range(n_items)
    )
    if finished:
        ItemAttempt.objects.bulk_create(
            ItemAttempt(item=item, number=1, started_at=now, finished_at=now, outcome=item.status)
            for item in items
        )
    JobLogEntry.objects.bulk_create(
        JobLogEntry(job=job, item=items[i % len(items)] if items else None, level=level, message=m)
        for i, (level, m) in enumerate(
            [(LogLevel.INFO, "started"), (LogLevel.WARNING, "slow host"), (LogLevel.ERROR, "oops")]
        )
    )
    job.recount(save=True)
    return job


@pytest.fixture
def seeded_ids(alice, bob, staff) -> list[str]:
    jobs = [
        seed_job(alice, JobStatus.COMPLETED_WITH_ERRORS, 30, processor="http_check", priority=8),
        seed_job(alice, JobStatus.COMPLETED, 4, processor="page_audit", priority=2),
        seed_job(alice, JobStatus.RUNNING, 6, priority=5),
        seed_job(alice, JobStatus.QUEUED, 3, priority=10),
        seed_job(alice, JobStatus.CANCELLED, 2),
        seed_job(alice, JobStatus.FAILED, 2),
        seed_job(alice, JobStatus.PENDING, 0),
    ]
    bobs = seed_job(bob, JobStatus.COMPLETED, 2)  # alice must get 404 for it
    return [str(job.id) for job in jobs] + [str(bobs.id), str(uuid.uuid4())]


@pytest.fixture
def schedule_ids(alice, bob) -> list[str]:
    from jobs.schedules import create_schedule

    mine = [create_schedule(alice, urls=["https://example.com"], every=e)[0] for e in ("1h", "5m")]
    bobs, _ = create_schedule(bob, urls=["https://example.com"], cron="0 9 * * *")
    return [str(s.pk) for s in mine] + [str(bobs.pk), str(uuid.uuid4())]


@pytest.fixture
def api_schema(in_process_django, unthrottled):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", in_process_django)


def operations(schema) -> list:
    """Every operation but the event streams: those are Channels consumers routed ahead of
    Django in batchsite/asgi.py (a WSGI app does not serve them) and hold the response open."""
    # .ok() raises for an operation schemathesis cannot read: that fails the test too.
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if not op.path.endswith("/events")]


def bearer(user) -> dict[str, str]:
    _, raw = ApiKey.issue(user, "schemathesis")
    return {"Authorization": f"Bearer {raw}"}


def test_no_operation_errors_or_breaks_the_schema(
    api_schema, alice, staff, seeded_ids, schedule_ids
):
    as_alice, as_staff = bearer(alice), bearer(staff)
    ops = operations(api_schema)
    assert len(ops) >= 7
    failures: list[str] = []
    seen: dict[str, Counter] = {}
    for operation in ops:
        statuses = seen[operation.label] = Counter()
        try:
            fuzz(operation, as_alice, seeded_ids, statuses, schedule_ids)
            if set(statuses) == {403}:  # staff only: fuzz it as staff too
                fuzz(operation, as_staff, seeded_ids, statuses, schedule_ids)
        except Unsatisfiable as exc:
            # Negative mode, an operation without inputs: there is nothing to negate.
            if MODE is GenerationMode.POSITIVE:
                failures.append(f"{operation.label}:\n{exc}")
        # Every operation's failures, then all at once (FailureGroup is a BaseExceptionGroup).
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}:\n{exc}")
    summary = "\n".join(f"  {label}: {dict(counts)}" for label, counts in seen.items())
    print("Statuses seen:\n" + summary)  # shown with -s or -rP
    assert not failures, "\n\n".join(failures) + "\n\nStatuses seen:\n" + summary
    if MODE is not GenerationMode.POSITIVE:
        return
    # Fuzzing only ever hitting 400/404 would prove little: every operation (the health check
    # aside, see no_server_error) answered some request with success.
    unreached = [
        label
        for label, counts in seen.items()
        if not label.endswith("/health") and not any(code < 300 for code in counts)
    ]
    assert not unreached, f"never a 2xx: {unreached}\n{summary}"


VALID_URLS = st.lists(
    st.sampled_from([f"https://example.com/{path}" for path in ("", "a", "b?x=1", "c#top")]),
    min_size=1,
    max_size=4,
)
SUBMIT_KEEPS = (
    "concurrency",
    "item_timeout",
    "max_attempts",
    "per_host_limit",
    "host_delay",
    "name",
)


def make_submittable(case, urls: list[str], priority: str, **extra: str) -> None:
    """Random text is almost never a URL nor a processor's name: half the submissions become JSON
    that keeps the generated numbers and name but gets real URLs, so the 201 path is fuzzed too."""
    body = case.body if isinstance(case.body, dict) else {}
    kept = {key: value for key, value in body.items() if key in SUBMIT_KEEPS}
    case.media_type = "application/json"
    case.body = {**kept, "urls": urls, "priority": priority, **extra}


def fuzz(
    operation, auth: dict[str, str], job_ids: list[str], statuses: Counter, schedule_ids=()
) -> None:
    has_job_id = any(p.name == "job_id" for p in operation.path_parameters)
    has_schedule_id = any(p.name == "schedule_id" for p in operation.path_parameters)
    is_submit = operation.method.upper() == "POST" and operation.path.endswith("/jobs")
    is_schedule = operation.method.upper() == "POST" and operation.path.endswith("/schedules")

    @given(
        case=operation.as_strategy(MODE, headers=auth),
        job_id=st.sampled_from(job_ids),
        schedule_id=st.sampled_from(list(schedule_ids) or ["none"]),
        every=st.sampled_from(["1h", "15m", "30"]),
        urls=VALID_URLS,
        priority=st.sampled_from(["1", "5", "10", "low", "urgent"]),
        repair=st.booleans(),
    )
    @settings(
        # Schedules share their validation with jobs (fuzzed in full above): fewer examples.
        max_examples=MAX_EXAMPLES // 3 if "/schedules" in operation.path else MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: a failure here is never a fluke
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case, job_id, schedule_id, every, urls, priority, repair):
        if has_job_id:
            # Mostly real jobs (alice's, in every state), sometimes bob's or a missing one.
            case.path_parameters = {**(case.path_parameters or {}), "job_id": job_id}
        if has_schedule_id:
            case.path_parameters = {**(case.path_parameters or {}), "schedule_id": schedule_id}
        if is_submit and repair:
            make_submittable(case, urls, priority)
        if is_schedule and repair:
            make_submittable(case, urls, priority, every=every)
        with transaction.atomic():
            response = case.call_and_validate(headers=auth, checks=CHECKS)
            statuses[response.status_code] += 1
            transaction.set_rollback(True)

    run()

"""The hot-path writes: claims are exact and exclusive, outcomes only land on rows still held."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from jobs import store
from jobs.models import ItemStatus
from jobs.services import submit_batch

pytestmark = pytest.mark.django_db(transaction=True)


def now():
    return datetime.now(UTC)


def claim(job, worker: str, limit: int):
    with transaction.atomic():
        return store.claim(job.pk, worker, limit, now())


def test_a_claim_takes_exactly_the_next_items_in_position_order(alice):
    job = submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(200)]).job
    first = claim(job, "w1", 50)
    assert [c.position for c in first] == list(range(50))
    second = claim(job, "w2", 50)
    assert [c.position for c in second] == list(range(50, 100))
    assert job.items.filter(status=ItemStatus.PROCESSING, worker="w1").count() == 50
    assert claim(job, "w3", 0) == []


def test_concurrent_claims_never_share_an_item(alice):
    job = submit_batch(alice, urls=[f"https://example.com/{i}" for i in range(2000)]).job
    taken: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        mine: list[int] = []
        try:
            while batch := claim(job, name, 37):
                mine += [c.id for c in batch]
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()
        taken[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    all_ids = [i for ids in taken.values() for i in ids]
    assert len(all_ids) == len(set(all_ids)) == 2000


def test_outcomes_only_change_rows_the_worker_still_holds(alice):
    job = submit_batch(alice, urls=["https://example.com/a", "https://example.com/b"]).job
    a, b = claim(job, "w1", 2)
    job.items.filter(pk=b.id).update(status=ItemStatus.QUEUED, worker="")  # reconcile took it
    t = now()
    outcomes = [
        store.Outcome(
            c.id, ItemStatus.SUCCEEDED, "fetch", 100.0, 1, {"ok": True}, "", "", 200, t, t, 0.1
        )
        for c in (a, b)
    ]
    with transaction.atomic():
        assert store.record_outcomes(outcomes, "w1") == 1
    assert job.items.get(pk=a.id).result == {"ok": True}
    assert job.items.get(pk=b.id).status == ItemStatus.QUEUED


def test_release_gives_unstarted_claims_back(alice):
    job = submit_batch(alice, urls=["https://example.com/a"]).job
    (a,) = claim(job, "w1", 5)
    with transaction.atomic():
        assert store.release([a.id], "w1") == 1
    assert job.items.get().status == ItemStatus.QUEUED

"""Jobs for the API tests, written the way the product writes them (jobs.store), and the API
clients they are read with."""

from __future__ import annotations

from django.db import transaction
from rest_framework.test import APIClient

from jobs import store
from jobs.models import ApiKey, ApiKeyScope, BatchJob, ItemStatus, JobStatus


def make_job(owner, items: int = 0, *, item_status: str = ItemStatus.QUEUED, **fields) -> BatchJob:
    """A job (completed unless `status` says otherwise) with `items` items, all `item_status`;
    item i is https://site{i % 7}.example/page/{i}. The job's counters match its items."""
    job = BatchJob.objects.create(owner=owner, **{"status": JobStatus.COMPLETED, **fields})
    if items:
        rows = [
            (i, f"https://site{i % 7}.example/page/{i}", f"site{i % 7}.example/page/{i}")
            for i in range(items)
        ]
        with transaction.atomic():  # one commit, as submit_batch does
            store.insert_items(job.pk, rows, item_status)
        job.recount()
    return job


def client_for(user) -> APIClient:
    """A client signed in as `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def key_client(user, scope: str = ApiKeyScope.FULL, name: str = "key") -> APIClient:
    """A client that sends a new API key of `user` as `Authorization: Bearer`."""
    _, raw = ApiKey.issue(user, name, scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client

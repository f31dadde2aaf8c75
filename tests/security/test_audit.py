"""The audit log: each operator action, through the page or API people use, writes one entry
(who, when, what, target) in the service it goes through; the admin shows them read-only, the
settings sub-page shows a user their own (staff: everyone's), a page at a time."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs import audit
from jobs.account import keys, webhooks
from jobs.models import AuditAction, AuditEntry, BatchJob, JobStatus, Preferences
from tests.security.test_roles import finished_job, running_job

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def only_entry(**match) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(**match))
    assert len(entries) == 1, entries
    return entries[0]


def test_cancel_retry_and_delete_from_the_job_page_are_recorded(alice):
    client = signed_in(alice)
    running, finished = running_job(alice), finished_job(alice)
    before = timezone.now()
    assert client.post(reverse("job-cancel", args=[running.pk])).status_code == 200
    assert client.post(reverse("job-retry", args=[finished.pk])).status_code == 200
    entry = only_entry(action=AuditAction.JOB_CANCEL)
    assert (entry.actor, entry.actor_name, entry.target_type) == (alice, "alice", "batchjob")
    assert (entry.target_id, entry.target_label) == (str(running.pk), "alice-running")
    assert entry.at >= before
    retry = only_entry(action=AuditAction.JOB_RETRY)
    assert retry.details["requeued"] == 1
    BatchJob.objects.filter(pk=finished.pk).update(status=JobStatus.COMPLETED)
    assert client.post(reverse("job-delete", args=[finished.pk])).status_code == 200
    deleted = only_entry(action=AuditAction.JOB_DELETE)
    assert deleted.target_id == str(finished.pk)
    assert deleted.target_label == "alice-finished", "the entry outlives its job"
    assert deleted.details["items"] == 1


def test_api_actions_are_recorded_with_the_key_owner(alice, staff):
    from jobs.models import ApiKey

    raw = ApiKey.issue(alice, "script")[1]
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    job = running_job(alice)
    assert client.post(f"/api/jobs/{job.pk}/cancel").status_code == 200
    assert only_entry(action=AuditAction.JOB_CANCEL).actor == alice
    done = finished_job(alice)
    assert signed_in(staff).delete(f"/api/jobs/{done.pk}").status_code == 200
    assert only_entry(action=AuditAction.JOB_DELETE).actor == staff


def test_a_refused_action_writes_nothing(alice):
    done = finished_job(alice)
    response = signed_in(alice).post(reverse("job-cancel", args=[done.pk]))
    assert response.status_code == 409
    assert not AuditEntry.objects.exists()


def test_bulk_actions_are_one_entry_listing_the_jobs_they_changed(alice):
    first, second = running_job(alice), running_job(alice)
    finished = finished_job(alice)
    client = signed_in(alice)
    ids = [first.pk, second.pk, finished.pk]
    client.post(reverse("job-actions"), {"action": "cancel", "ids": ids})
    entry = only_entry(action=AuditAction.BULK_CANCEL)
    assert entry.actor == alice
    assert entry.details["matched"] == 3
    assert sorted(entry.details["ids"]) == sorted([str(first.pk), str(second.pk)])
    client.post(reverse("job-actions"), {"action": "retry", "ids": ids})
    retried = only_entry(action=AuditAction.BULK_RETRY)
    assert (retried.details["ids"], retried.details["requeued"]) == ([str(finished.pk)], 1)
    assert not AuditEntry.objects.filter(action=AuditAction.JOB_CANCEL).exists()


def test_long_id_lists_are_capped():
    facts = audit.id_list(range(audit.MAX_IDS + 7))
    assert len(facts["ids"]) == audit.MAX_IDS
    assert facts["more_ids"] == 7


def test_admin_bulk_actions_are_recorded(staff, alice):
    staff.is_superuser = True
    staff.save()
    job = running_job(alice)
    response = signed_in(staff).post(
        reverse("admin:jobs_batchjob_changelist"),
        {"action": "cancel_jobs", "_selected_action": [job.pk]},
    )
    assert response.status_code == 302
    entry = only_entry(action=AuditAction.BULK_CANCEL)
    assert (entry.actor, entry.details["ids"]) == (staff, [str(job.pk)])


def test_cleanup_is_recorded_with_what_it_deleted(staff, alice):
    old = finished_job(alice)
    BatchJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timezone.timedelta(9))
    response = signed_in(staff).post(
        "/api/cleanup", {"older_than_days": 5}, content_type="application/json"
    )
    assert response.json() == {"deleted_jobs": 1, "deleted_items": 1}
    entry = only_entry(action=AuditAction.CLEANUP)
    assert entry.actor == staff
    assert entry.details == {
        "older_than_days": 5,
        "deleted_jobs": 1,
        "deleted_items": 1,
    }


def test_key_and_webhook_changes_are_recorded(alice, site):
    key, _ = keys.create_key(alice, "deploy script", "read")
    first_prefix = key.prefix
    keys.regenerate_key(key)
    keys.revoke_key(key)
    keys.revoke_key(key)  # already revoked: nothing changes, nothing recorded
    hook, _ = webhooks.create_webhook(
        alice,
        url=site.url("/ok/hook"),
        events=["job_completed"],
        max_attempts=3,
        backoff_base=10,
        backoff_max=60,
    )
    webhooks.rotate_secret(hook)
    webhooks.delete_webhook(hook)
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "target_type"))
    assert actions == [
        ("key.create", "apikey"),
        ("key.regenerate", "apikey"),
        ("key.revoke", "apikey"),
        ("webhook.create", "webhook"),
        ("webhook.rotate", "webhook"),
        ("webhook.delete", "webhook"),
    ]
    assert set(AuditEntry.objects.values_list("actor", flat=True)) == {alice.pk}
    created = AuditEntry.objects.get(action="key.create")
    assert created.details == {"scope": "read", "prefix": first_prefix}
    assert AuditEntry.objects.get(action="key.regenerate").details == {"prefix": key.prefix}
    details = str(list(AuditEntry.objects.values_list("details", flat=True)))
    assert key.key_hash not in details
    assert hook.secret not in details


def test_key_changes_from_the_settings_page_are_recorded(alice):
    client = signed_in(alice)
    client.post(reverse("settings-key-create"), {"name": "ci", "scope": "full"})
    key = alice.api_keys.get()
    client.post(reverse("settings-key-revoke", args=[key.pk]), {"confirm": "yes"})
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == [
        "key.create",
        "key.revoke",
    ]


def test_the_settings_page_shows_your_own_entries_and_staff_see_everyones(alice, bob, staff):
    audit.record(alice, AuditAction.JOB_CANCEL, running_job(alice))
    keys.create_key(bob, "bobs-key", "full")
    page = signed_in(alice).get(reverse("settings-audit")).content.decode()
    assert "alice-running" in page
    assert "bobs-key" not in page
    everyone = signed_in(staff).get(reverse("settings-audit")).content.decode()
    assert "alice-running" in everyone
    assert "bobs-key" in everyone
    assert "<th>Who</th>" in everyone
    assert "<th>Who</th>" not in page
    assert (
        signed_in(alice).get(reverse("settings")).content.decode().count(reverse("settings-audit"))
    )


def test_the_settings_page_is_paginated(alice):
    Preferences.objects.update_or_create(user=alice, defaults={"page_size": 10})
    job = running_job(alice)
    for _ in range(23):
        audit.record(alice, AuditAction.JOB_CANCEL, job)
    client = signed_in(alice)
    first = client.get(reverse("settings-audit")).content.decode()
    assert first.count("data-audit=") == 10
    assert "Page 1 of 3" in first
    last = client.get(reverse("settings-audit"), {"page": 3}).content.decode()
    assert last.count("data-audit=") == 3
    assert client.get(reverse("settings-audit"), {"page": "zz"}).status_code == 200


def test_the_admin_shows_the_log_read_only(staff, alice):
    staff.is_superuser = True
    staff.save()
    entry = audit.record(alice, AuditAction.JOB_CANCEL, running_job(alice))
    client = signed_in(staff)
    listing = client.get(reverse("admin:jobs_auditentry_changelist"))
    assert listing.status_code == 200
    assert "alice-running" in listing.content.decode()
    change = client.get(reverse("admin:jobs_auditentry_change", args=[entry.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert client.get(reverse("admin:jobs_auditentry_add")).status_code == 403
    delete = client.post(reverse("admin:jobs_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_deleted_user_leaves_their_name_behind(bob):
    keys.create_key(bob, "k", "full")
    bob.delete()
    entry = AuditEntry.objects.get(action="key.create")
    assert (entry.actor, entry.actor_name) == (None, "bob")

"""Telling a user that something happened: a job ended, or an alert fired. Per their
preferences: webhooks (jobs.account.webhooks) and e-mail (Django's e-mail backend, from an RQ
task). In-app notifications are the layout's bell and toasts, fed by live events.
"""

from __future__ import annotations

from typing import Any

import django_rq
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from jobs.account import webhooks
from jobs.account.preferences import preferences_for
from jobs.models import BatchJob, WebhookEvent

EMAIL_SUBJECTS = {
    WebhookEvent.JOB_COMPLETED: "completed",
    WebhookEvent.JOB_FAILED: "failed",
    WebhookEvent.JOB_COMPLETED_WITH_ERRORS: "finished with errors",
}


def job_ended(job: BatchJob) -> None:
    """Call in the transaction that ends `job`: its notifications go out once that commits."""
    if job.status not in WebhookEvent.FOR_JOB_STATUS:
        return
    from jobs import alerts  # it reaches events and models; keep this module light to import

    alerts.job_finished(job)
    job_id = str(job.pk)
    transaction.on_commit(lambda: dispatch_job_event(job_id), robust=True)


def dispatch_job_event(job_id: str) -> None:
    """After the job's end is committed: queue its webhook deliveries and its e-mail."""
    job = BatchJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or job.status not in WebhookEvent.FOR_JOB_STATUS:
        return
    event = WebhookEvent.FOR_JOB_STATUS[job.status]
    prefs = preferences_for(job.owner)
    if prefs.notify_webhook:
        webhooks.send_event(job.owner, event, {"job": job_payload(job)})
    if prefs.notify_email and job.owner.email:
        _enqueue(send_job_email, job_id)


def job_payload(job: BatchJob) -> dict[str, Any]:
    """The job as the API shows it, and where to see it."""
    from jobs.api.serializers import job_dict

    data = job_dict(job)
    data["url"] = f"{settings.BATCHSITE_BASE_URL}/jobs/{job.pk}"
    return data


def notify_alert(user, title: str, message: str, data: dict[str, Any] | None = None) -> None:
    """An alert for `user` (e.g. a failure rate past a threshold): webhooks subscribed to
    `alert`, and an e-mail, as their preferences say."""
    prefs = preferences_for(user)
    body = {"alert": {"title": title, "message": message, **(data or {})}}
    if prefs.notify_webhook:
        webhooks.send_event(user, WebhookEvent.ALERT, body)
    if prefs.notify_email and user.email:
        transaction.on_commit(
            lambda: _enqueue(send_email, user.email, f"[batchsite] {title}", message), robust=True
        )


def send_job_email(job_id: str) -> bool:
    """RQ task: the e-mail about a job that ended. False when there is nothing to send."""
    job = BatchJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or not job.owner.email or job.status not in WebhookEvent.FOR_JOB_STATUS:
        return False
    what = EMAIL_SUBJECTS[WebhookEvent.FOR_JOB_STATUS[job.status]]
    name = job.name or f"Job {str(job.pk)[:8]}"
    lines = [
        f"Your batch “{name}” {what}.",
        "",
        f"{job.total_items:,} URLs with {job.processor}: {job.count_succeeded:,} succeeded, "
        f"{job.count_failed:,} failed, {job.count_cancelled:,} cancelled.",
    ]
    if job.error:
        lines += ["", f"Error: {job.error}"]
    lines += ["", f"See it at {job_payload(job)['url']}", "", _footer()]
    return send_email(job.owner.email, f"[batchsite] {name} {what}", "\n".join(lines))


def send_email(to: str, subject: str, text: str) -> bool:
    """RQ task (and the job e-mail's last step): one plain-text message."""
    return bool(send_mail(subject, text, None, [to]))


def _footer() -> str:
    return (
        f"Change which notifications you get at {settings.BATCHSITE_BASE_URL}/settings#preferences"
    )


def _enqueue(func, *args: Any) -> None:
    queue = django_rq.get_queue(settings.BATCHSITE_WEBHOOK_QUEUE, commit_mode="auto")
    queue.enqueue(func, *args, job_timeout=120, result_ttl=600, failure_ttl=7 * 86400)

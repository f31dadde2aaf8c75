"""Webhook deliveries on RQ: sign, POST through the guarded client, record, retry with backoff.

A delivery is a database row first (jobs.models.WebhookDelivery); RQ only carries "deliver this
id now" or "at this time". An attempt claims the row (attempts n → n+1, conditional), so a
delivery enqueued twice — by reconcile after Redis lost it, say — is still sent once per attempt.
Every attempt's outcome goes through `record_outcome`, the one place that writes the delivery log
and decides on a retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analytics.record import record_webhook
from jobs.account.signing import HEADER, header_value
from jobs.bridge import DbBridge
from jobs.errors import ErrorCode, ItemError
from jobs.fetch import Fetcher
from jobs.models import DeliveryAttempt, DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

log = logging.getLogger(__name__)

# A receiver's answer is read up to this many bytes (the log keeps an excerpt of it).
MAX_RESPONSE_BYTES = 256 * 1024
# Not worth another attempt: the address is refused or the URL is not one.
PERMANENT_CODES = frozenset({ErrorCode.BLOCKED_ADDRESS, ErrorCode.INVALID_URL})
# A delivery still due this long after its time has lost its RQ job (Redis restarted, say).
STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    http_status: int | None = None
    duration_ms: float | None = None
    excerpt: str = ""
    error: str = ""
    retryable: bool = True


def body_of(delivery: WebhookDelivery) -> bytes:
    """The request body: the same bytes on every attempt of a delivery."""
    envelope = {
        "id": str(delivery.pk),
        "event": delivery.event,
        "created_at": delivery.created_at,
        "data": delivery.payload,
    }
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def enqueue(delivery_id: Any, delay: float = 0) -> None:
    """Put a delivery on RQ now, or `delay` seconds from now (RQ's scheduler moves it)."""
    queue = django_rq.get_queue(settings.BATCHSITE_WEBHOOK_QUEUE, commit_mode="auto")
    options = {
        "job_timeout": int(settings.BATCHSITE_WEBHOOK_TIMEOUT * 2 + 60),
        "result_ttl": 600,
        "failure_ttl": 7 * 86400,
        "description": f"Webhook delivery {delivery_id}",
    }
    if delay > 0:
        # RQ's scheduler keeps whole seconds (it truncates), so round up: never early.
        when = datetime.now(UTC) + timedelta(seconds=delay)
        when = when.replace(microsecond=0) + timedelta(seconds=1 if when.microsecond else 0)
        queue.enqueue_at(when, deliver, str(delivery_id), **options)
    else:
        queue.enqueue(deliver, str(delivery_id), **options)


def enqueue_on_commit(deliveries: list[WebhookDelivery]) -> None:
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: [enqueue(pk) for pk in ids], robust=True)


def deliver(delivery_id: str) -> str:
    """RQ task: one attempt at a delivery. Returns its status (for RQ's result)."""
    delivery = (
        WebhookDelivery.objects.select_related("webhook")
        .filter(pk=delivery_id, status__in=DeliveryStatus.ACTIVE)
        .first()
    )
    if delivery is None:
        return "gone"
    due = delivery.next_attempt_at or timezone.now()
    early = (due - timezone.now()).total_seconds()
    if early > 0.05:  # a copy from requeue_stale, say: try again when it is due
        enqueue(delivery.pk, early)
        return "not due"
    number = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=DeliveryStatus.ACTIVE, attempts=delivery.attempts
    ).update(attempts=number)
    if not claimed:
        return "taken"
    webhook = delivery.webhook
    if not webhook.is_active and delivery.event != WebhookEvent.TEST:
        outcome = Outcome(ok=False, error="The webhook is paused.", retryable=False)
    else:
        outcome = post(webhook, delivery)
    return record_outcome(delivery, number, outcome)


def post(webhook: Webhook, delivery: WebhookDelivery) -> Outcome:
    """One signed POST of the delivery's body to the webhook's URL (SSRF-guarded, every hop)."""
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "X-Batchsite-Event": delivery.event,
        "X-Batchsite-Delivery": str(delivery.pk),
        HEADER: header_value(webhook.secret, body),
    }
    timeout = settings.BATCHSITE_WEBHOOK_TIMEOUT

    async def send():
        async with Fetcher.from_settings(concurrency=1, max_bytes=MAX_RESPONSE_BYTES) as fetcher:
            async with asyncio.timeout(timeout):
                return await fetcher.fetch(webhook.url, method="POST", headers=headers, data=body)

    started = time.perf_counter()
    try:
        # In a helper thread: a caller that already runs an event loop can deliver too.
        result = DbBridge().run(send)
    except ItemError as exc:
        return Outcome(
            ok=False,
            duration_ms=_ms(started),
            error=f"{exc.code}: {exc.message}"[:500],
            retryable=exc.code not in PERMANENT_CODES,
        )
    except TimeoutError:
        return Outcome(
            ok=False, duration_ms=_ms(started), error=f"TIMEOUT: no answer in {timeout:g} s"
        )
    except Exception as exc:  # never leave a claimed delivery without its outcome
        log.exception("webhook %s delivery %s: unexpected error", webhook.pk, delivery.pk)
        return Outcome(ok=False, duration_ms=_ms(started), error=f"{type(exc).__name__}: {exc}")
    excerpt = result.body.decode(result.charset or "utf-8", "replace")
    return Outcome(
        ok=200 <= result.status < 300,
        http_status=result.status,
        duration_ms=_ms(started),
        excerpt=excerpt[: settings.BATCHSITE_WEBHOOK_EXCERPT_CHARS],
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def record_outcome(delivery: WebhookDelivery, number: int, outcome: Outcome) -> str:
    """Where every attempt's outcome goes: the delivery log row, the delivery's status (and its
    retry, scheduled once this commits), the webhook's last-delivery fields. Returns the status.

    The one function to hook per-attempt metrics onto (webhook delivery success rate)."""
    webhook = delivery.webhook
    now = timezone.now()
    attempts_allowed = 1 if delivery.event == WebhookEvent.TEST else webhook.max_attempts
    final = outcome.ok or not outcome.retryable or number >= attempts_allowed
    if outcome.ok:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
    delay = 0 if final else webhook.backoff(number)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            webhook=webhook,
            number=number,
            started_at=now - timedelta(milliseconds=outcome.duration_ms or 0),
            ok=outcome.ok,
            http_status=outcome.http_status,
            duration_ms=outcome.duration_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error[:500],
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=status,
            next_attempt_at=None if final else now + timedelta(seconds=delay),
            finished_at=now if final else None,
        )
        Webhook.objects.filter(pk=webhook.pk).update(
            last_delivery_at=now,
            last_delivery_ok=outcome.ok,
            consecutive_failures=0 if outcome.ok else F("consecutive_failures") + 1,
        )
        record_webhook(webhook.user_id, outcome.ok, outcome.duration_ms, now)
        if not final:
            transaction.on_commit(lambda: enqueue(delivery.pk, delay), robust=True)
    if not outcome.ok:
        log.info(
            "webhook %s delivery %s attempt %s failed: %s",
            webhook.pk,
            delivery.pk,
            number,
            outcome.error or f"HTTP {outcome.http_status}",
        )
    return status


def requeue_stale() -> int:
    """Periodic: put back on RQ the deliveries whose RQ job was lost. Returns how many."""
    cutoff = timezone.now() - STALE_AFTER
    stale = list(
        WebhookDelivery.objects.filter(
            status__in=DeliveryStatus.ACTIVE, next_attempt_at__lt=cutoff
        ).values_list("pk", flat=True)[:1000]
    )
    for pk in stale:
        enqueue(pk)
    return len(stale)

"""The audit log of operator actions: who did what, when, to which target.

The services that carry out an action write its entry (jobs.services for jobs, jobs.account.keys
and jobs.account.webhooks for keys and webhooks, the cleanup view for retention), inside the
action's own transaction where there is one, so an action and its entry commit together. Entries
are read-only everywhere: in the admin, and on Settings → Audit log (a user's own; staff all).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jobs import roles
from jobs.models import AuditAction, AuditEntry

# Ids listed in one bulk entry; past it the entry says how many more there were.
MAX_IDS = 200


def _target(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    kind = target._meta.model_name
    label = getattr(target, "name", "") or getattr(target, "url", "") or ""
    return kind, str(target.pk), str(label)[:200]


def record(actor, action: AuditAction | str, target: Any = None, **details: Any) -> AuditEntry:
    """One entry. `actor` None is the system (the scheduler's retention, a management command);
    `target` a model instance (a job, an API key, a webhook) or None; `details` JSON-able facts."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    kind, target_id, label = _target(target)
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=AuditAction(action),
        target_type=kind,
        target_id=target_id,
        target_label=label,
        details=details,
    )


def id_list(ids) -> dict[str, Any]:
    """Details for a bulk entry: the ids (at most MAX_IDS) and how many were left out."""
    ids = [str(i) for i in ids]
    facts: dict[str, Any] = {"ids": ids[:MAX_IDS]}
    if len(ids) > MAX_IDS:
        facts["more_ids"] = len(ids) - MAX_IDS
    return facts


def entries_for(user) -> QuerySet[AuditEntry]:
    """What `user` may read: their own actions; staff every entry. Newest first."""
    entries = AuditEntry.objects.select_related("actor")
    if not roles.is_signed_in(user):
        return entries.none()
    return entries if roles.is_staff(user) else entries.filter(actor=user)

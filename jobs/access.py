"""Who may see what, and who may change what (the roles are in jobs.roles).

Owners see and act on their own jobs; staff see and act on every job; viewers see every job and
act on none. A job the user may not see is a 404, so nobody learns that another user's job
exists; a job they may see but not change is a 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404

from jobs import roles
from jobs.models import BatchJob, JobTally


def can_see_all(user) -> bool:
    """Staff and viewers see every job."""
    return roles.sees_all(user)


def _visible(user, rows: QuerySet) -> QuerySet:
    if not roles.is_signed_in(user):
        return rows.none()
    return rows if can_see_all(user) else rows.filter(owner=user)


def jobs_for(user) -> QuerySet[BatchJob]:
    """The jobs `user` may see."""
    return _visible(user, BatchJob.objects.all())


def tallies_for(user) -> QuerySet[JobTally]:
    """The JobTally rows that count the jobs `user` may see."""
    return _visible(user, JobTally.objects.all())


def actionable_jobs_for(user) -> QuerySet[BatchJob]:
    """The jobs `user` may cancel, retry or delete: staff all, owners theirs, viewers none."""
    if not roles.may_act(user):
        return BatchJob.objects.none()
    return BatchJob.objects.all() if roles.is_staff(user) else BatchJob.objects.filter(owner=user)


def may_act_on(user, job: BatchJob) -> bool:
    return roles.may_act(user) and (roles.is_staff(user) or job.owner_id == user.pk)


def check_may_submit(user) -> None:
    """PermissionDenied for users who may not start batches (viewers)."""
    if not roles.may_act(user):
        raise PermissionDenied(roles.READ_ONLY_MESSAGE)


def get_job_for_user(user, pk, *, act: bool = False) -> BatchJob:
    """The job, or Http404 both when it does not exist and when it is not the user's. With
    `act`, PermissionDenied when the user may see the job but not change it (a viewer)."""
    try:
        job = jobs_for(user).get(pk=pk)
    except (BatchJob.DoesNotExist, ValueError, TypeError, ValidationError):
        # ValidationError: not a UUID at all
        raise Http404("No such job.") from None
    if act and not may_act_on(user, job):
        raise PermissionDenied(roles.READ_ONLY_MESSAGE)
    return job

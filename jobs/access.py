"""Who may see what. Owners see their own jobs, staff see every job; anything else is a 404,
so nobody learns that another user's job exists."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from jobs.models import BatchJob, JobTally


def can_see_all(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


def _visible(user, rows: QuerySet) -> QuerySet:
    if not (user and user.is_authenticated):
        return rows.none()
    return rows if can_see_all(user) else rows.filter(owner=user)


def jobs_for(user) -> QuerySet[BatchJob]:
    """The jobs `user` may see."""
    return _visible(user, BatchJob.objects.all())


def tallies_for(user) -> QuerySet[JobTally]:
    """The JobTally rows that count the jobs `user` may see."""
    return _visible(user, JobTally.objects.all())


def get_job_for_user(user, pk) -> BatchJob:
    """The job, or Http404 both when it does not exist and when it is not the user's."""
    try:
        return jobs_for(user).get(pk=pk)
    except (BatchJob.DoesNotExist, ValueError, TypeError, ValidationError):
        # ValidationError: not a UUID at all
        raise Http404("No such job.") from None

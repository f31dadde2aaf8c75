"""Signal receivers of the settings area (connected by JobsConfig.ready)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from jobs.account.preferences import layout_preferences


@receiver(user_logged_in, dispatch_uid="batchsite-warm-layout-preferences")
def warm_layout_preferences(sender, request, user, **kwargs) -> None:
    """Load the user's layout preferences into the cache at login, so pages never wait on it."""
    layout_preferences(user)


@receiver(user_logged_in, dispatch_uid="batchsite-warm-unread-alerts")
def warm_unread_alerts(sender, request, user, **kwargs) -> None:
    """The bell's count into the cache at login too (jobs.alerts forgets it when it changes)."""
    from jobs.alerts import unread_count  # alerts reaches events and the channel layer

    unread_count(user)

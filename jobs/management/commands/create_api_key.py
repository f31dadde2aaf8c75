"""manage.py create_api_key USERNAME [--name N] [--scope read|full]

Prints the key alone on its last line (only a hash is stored; it cannot be shown again).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import ApiKey, ApiKeyScope


class Command(BaseCommand):
    help = "Create an API key for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="CLI key")
        parser.add_argument("--scope", choices=ApiKeyScope.values, default=ApiKeyScope.FULL)

    def handle(self, *args, **opts) -> None:
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"No user named {opts['username']!r}.")
        key, raw = ApiKey.issue(user, opts["name"], opts["scope"])
        self.stderr.write(
            f"Created {key.get_scope_display().lower()} key {key.name!r} for {user.username}. "
            "Store it now: it is not shown again."
        )
        self.stdout.write(raw)

"""``manage.py ensure_admin``: the first admin login, created once by ``./run``.

With no superuser yet, it creates ``admin`` with a random password, prints the password once and
keeps it in ``var/admin-password.txt`` (mode 600) so it can be found again. Once a superuser exists
it only says how to log in and how to reset a password. Safe to run on every start.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is inside it (shorter to read)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by the owner only, even if it existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


class Command(BaseCommand):
    help = "Create superuser 'admin' (random password) if no superuser exists; say how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="name of the superuser to create")
        parser.add_argument(
            "--password-file",
            type=Path,
            default=Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var"))
            / "admin-password.txt",
            help="where the generated password is kept (mode 600)",
        )

    def handle(self, *args, username: str, password_file: Path, **options):
        User = get_user_model()
        superusers = User._default_manager.filter(is_superuser=True).order_by("pk")
        if superusers.exists():
            self._explain_existing(superusers, username, password_file)
            return
        password = secrets.token_urlsafe(15)
        try:
            with transaction.atomic():
                if User._default_manager.filter(**{User.USERNAME_FIELD: username}).exists():
                    raise CommandError(
                        f"no superuser exists, and the username {username!r} belongs to a regular "
                        "account. Create one with: ./run manage createsuperuser"
                    )
                User._default_manager.create_superuser(
                    **{User.USERNAME_FIELD: username, "password": password}
                )
                # Inside the transaction: if the file cannot be written, no login is left that
                # nobody knows the password of.
                write_private(password_file, password + "\n")
        except IntegrityError:
            # Another process created it at the same moment; report what exists now.
            self._explain_existing(superusers, username, password_file)
            return
        self.stdout.write(
            self.style.SUCCESS("Created the admin login (the password is shown only this once):")
        )
        self.stdout.write(f"    username: {username}")
        self.stdout.write(f"    password: {password}")
        self.stdout.write(
            f"It is also kept, readable only by you, in {_shown(password_file)}. "
            f"Change it with: ./run manage changepassword {username}"
        )

    def _explain_existing(self, superusers, username: str, password_file: Path) -> None:
        User = get_user_model()
        names = list(superusers.values_list(User.USERNAME_FIELD, flat=True)[:3])
        name = username if username in names else names[0]
        where = (
            f"; the password ./run generated is in {_shown(password_file)} unless it was changed"
            if password_file.exists() and name == username
            else ""
        )
        self.stdout.write(f"Admin login: {name}{where}.")
        self.stdout.write(f"Forgot the password? ./run manage changepassword {name}")

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Batch jobs"

    def ready(self) -> None:
        # Warms the preferences cache at login (jobs.account.middleware reads it).
        from jobs.account import signals  # noqa: F401

        # Registers the OpenAPI extension for Bearer API keys (drf-spectacular finds extensions
        # by import, so the module must be loaded before the schema is generated).
        from jobs.api import schema  # noqa: F401

"""Item error codes (a public contract) and the typed exception that carries one.

Kept free of the ORM so that fetch.py and processors can raise them without touching the database.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class ErrorCode(models.TextChoices):
    INVALID_URL = "INVALID_URL"
    BLOCKED_ADDRESS = "BLOCKED_ADDRESS"
    DNS_ERROR = "DNS_ERROR"
    CONNECTION_ERROR = "CONNECTION_ERROR"
    TIMEOUT = "TIMEOUT"
    TLS_ERROR = "TLS_ERROR"
    TOO_MANY_REDIRECTS = "TOO_MANY_REDIRECTS"
    RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"
    HTTP_ERROR = "HTTP_ERROR"
    NOT_HTML = "NOT_HTML"
    ROBOTS_DISALLOWED = "ROBOTS_DISALLOWED"
    PROCESSOR_ERROR = "PROCESSOR_ERROR"
    CANCELLED = "CANCELLED"


# Worth another attempt after a backoff; everything else fails the item at once.
RETRYABLE_CODES = frozenset({ErrorCode.TIMEOUT, ErrorCode.CONNECTION_ERROR})


class ItemError(Exception):
    """An item failed with an error code.

    `retryable` asks the runner for another attempt (after `retry_after` seconds when given).
    `result` is what the item records if no attempt is left and the failure is still a result,
    e.g. http_check's 503 after its retries: any HTTP response is a result for it.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
        http_status: int | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.retryable = code in RETRYABLE_CODES if retryable is None else retryable
        self.retry_after = retry_after
        self.http_status = http_status
        self.result = result

    def __repr__(self) -> str:
        return f"ItemError({self.code!r}, {self.message!r})"


class Cancelled(ItemError):
    """The job is being cancelled: the item stops at its next step."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.CANCELLED, "cancelled", retryable=False)

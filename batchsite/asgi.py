"""ASGI entry point: server-sent events and Django over HTTP, live events over WebSockets.

Run by daphne (see Procfile). Idle WebSockets are pinged by daphne after ``--ping-interval``
seconds without traffic (default 20) and dropped after ``--ping-timeout`` more (default 30).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "batchsite.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs apps loaded)
from django.urls import re_path  # noqa: E402

from jobs.routing import sse_urlpatterns, websocket_urlpatterns  # noqa: E402
from jobs.ws_auth import AuthStack, OriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        # The event streams first: they are long-lived async consumers, not Django views.
        "http": URLRouter([*sse_urlpatterns, re_path(r"", django_asgi_app)]),
        "websocket": OriginValidator(AuthStack(URLRouter(websocket_urlpatterns))),
    }
)

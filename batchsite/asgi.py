"""ASGI entry point: HTTP through Django (websocket routing joins here with the live events)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "batchsite.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs apps loaded)

application = ProtocolTypeRouter({"http": django_asgi_app})

"""The baseline of bench/events.py: a bare Channels consumer in a tiny ASGI app of its own.

It does what the Channels tutorial does and nothing more — join the job's group on connect, forward
every group message's event as JSON — with no authentication, no snapshot and no bookkeeping.

    daphne bench.events_bare:application    (WebSocket only: /ws/bare/<job_id>/)
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.events_settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from jobs.events import job_group  # noqa: E402


class BareConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = job_group(self.scope["url_route"]["kwargs"]["job_id"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def batch_event(self, message):
        await self.send(text_data=json.dumps(message["event"]))


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/bare/<str:job_id>/", BareConsumer.as_asgi())])}
)

"""Where sockets and event streams go (wired in batchsite/asgi.py).

Job ids are matched as any segment, so a malformed one gets the Contract's not_found (WebSocket) or
a 404 JSON body (SSE) instead of a failed handshake or Django's HTML 404.
"""

from django.urls import path, re_path

from jobs.consumers import JobConsumer, JobsConsumer
from jobs.sse import AllEventStream, JobEventStream
from jobs.ws_auth import AuthStack

websocket_urlpatterns = [
    re_path(r"^ws/jobs/?$", JobsConsumer.as_asgi()),
    path("ws/job/<str:job_id>/", JobConsumer.as_asgi()),
    path("ws/job/<str:job_id>", JobConsumer.as_asgi()),
]

# Routed ahead of Django's URLconf; the /api/ URLconf does not claim these paths.
sse_urlpatterns = [
    path("api/jobs/<str:job_id>/events", AuthStack(JobEventStream.as_asgi())),
    path("api/events", AuthStack(AllEventStream.as_asgi())),
]

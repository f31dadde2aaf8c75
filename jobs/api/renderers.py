"""The browsable API under the Content Security Policy: DRF's templates carry a few inline
style attributes, so its HTML pages (and only those) get settings.SECURE_CSP_THIRD_PARTY_UI."""

from __future__ import annotations

from django.conf import settings
from rest_framework import renderers


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_config = settings.SECURE_CSP_THIRD_PARTY_UI
        return super().render(data, accepted_media_type, renderer_context)

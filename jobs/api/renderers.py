"""The browsable API: under the Content Security Policy, and with a body to start from.

DRF's templates carry a few inline style attributes, so its HTML pages (and only those) get
settings.SECURE_CSP_THIRD_PARTY_UI. Its raw-data form starts empty, which leaves a person to
guess what to send; the routes that take a body start from an example of one instead.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework import renderers

# URL name → a body that route accepts, shown in the form.
EXAMPLE_BODIES = {
    "api-jobs": {
        "urls": ["https://example.com/", "https://example.org/about"],
        "processor": "http_check",
        "priority": "normal",
        "name": "My first batch",
    },
    "api-job-retry": {"status": ["failed"]},
    "api-cleanup": {"older_than_days": 30},
}


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_config = settings.SECURE_CSP_THIRD_PARTY_UI
        return super().render(data, accepted_media_type, renderer_context)

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        match = getattr(request, "resolver_match", None)
        example = EXAMPLE_BODIES.get(match.url_name if match else None)
        if form is not None and example is not None and method == "POST":
            form.fields["_content"].initial = json.dumps(example, indent=4)
        return form

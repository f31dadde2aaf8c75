"""The Analytics page: the range and processor form, the KPI row and the chart cards, rendered
here; analytics.js fills them from GET /api/analytics/overview with the same query string."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from analytics.charts import CHARTS
from analytics.window import RANGE_CHOICES, parse_window
from jobs.access import can_see_all
from jobs.processors.registry import processors

RANGE_LABELS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "custom": "Custom",
}


@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    staff = can_see_all(request.user)
    known = processors()
    window, errors = parse_window(request.GET, None if staff else request.user.pk, tuple(known))
    query = request.GET.copy()
    if errors:  # say what was wrong and show the default range instead
        window, _ = parse_window({}, None, tuple(known))
        query = query.__class__(mutable=True)
    query.pop("format", None)
    context = {
        "staff": staff,
        "errors": errors,
        "window": window,
        "query": query,
        "ranges": [(value, RANGE_LABELS[value]) for value in RANGE_CHOICES],
        "processors": [(name, cls.label or name) for name, cls in known.items()],
        "charts": {
            name: {
                "title": chart.title,
                "csv": f"{reverse('api-analytics-chart', args=[name])}?{_with(query, format='csv')}",
            }
            for name, chart in CHARTS.items()
        },
        "overview_url": f"{reverse('api-analytics-overview')}?{query.urlencode()}",
        "queue_url": f"{reverse('api-analytics-chart', args=['queue_depth'])}?{query.urlencode()}",
    }
    status = 400 if errors else 200
    return render(request, "analytics/page.html", context, status=status)


def _with(query, **values) -> str:
    copy = query.copy()
    for key, value in values.items():
        copy[key] = value
    return copy.urlencode()

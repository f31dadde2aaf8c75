from django.urls import path

from analytics import api, views

api_urlpatterns = [
    path("overview", api.overview_view, name="api-analytics-overview"),
    path("charts/<str:name>", api.chart_view, name="api-analytics-chart"),
]

urlpatterns = [path("analytics", views.analytics_page, name="analytics")]

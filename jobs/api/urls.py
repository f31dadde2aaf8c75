from django.urls import path

from jobs.api import views

urlpatterns = [
    path("health", views.health_view, name="api-health"),
]

from django.urls import path

from jobs.api import views

urlpatterns = [
    path("jobs", views.JobListView.as_view(), name="api-jobs"),
    path("jobs/<str:job_id>", views.JobDetailView.as_view(), name="api-job"),
    path("jobs/<str:job_id>/cancel", views.cancel_view, name="api-job-cancel"),
    path("jobs/<str:job_id>/retry", views.retry_view, name="api-job-retry"),
    path("health", views.health_view, name="api-health"),
]

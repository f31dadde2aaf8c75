from django.urls import path

from jobs.api import export, item_views, ops_views, schedule_views, views

urlpatterns = [
    path("jobs", views.JobListView.as_view(), name="api-jobs"),
    path("jobs/<str:job_id>", views.JobDetailView.as_view(), name="api-job"),
    path("jobs/<str:job_id>/cancel", views.cancel_view, name="api-job-cancel"),
    path("jobs/<str:job_id>/retry", views.retry_view, name="api-job-retry"),
    path("jobs/<str:job_id>/items", item_views.ItemListView.as_view(), name="api-job-items"),
    path("jobs/<str:job_id>/logs", item_views.LogListView.as_view(), name="api-job-logs"),
    path("jobs/<str:job_id>/results", export.ResultsView.as_view(), name="api-job-results"),
    path("schedules", schedule_views.ScheduleListView.as_view(), name="api-schedules"),
    path(
        "schedules/<str:schedule_id>",
        schedule_views.ScheduleDetailView.as_view(),
        name="api-schedule",
    ),
    path("schedules/<str:schedule_id>/pause", schedule_views.pause_view, name="api-schedule-pause"),
    path(
        "schedules/<str:schedule_id>/resume", schedule_views.resume_view, name="api-schedule-resume"
    ),
    path("health", views.health_view, name="api-health"),
    path("queues", ops_views.queues_view, name="api-queues"),
    path("cleanup", ops_views.cleanup_view, name="api-cleanup"),
]

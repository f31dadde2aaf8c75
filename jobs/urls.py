from jobs.views import (
    dashboard,
    job_actions,
    job_detail,
    job_list,
    job_new,
    layout,
    schedules,
    settings,
    settings_keys,
    settings_webhooks,
)

urlpatterns = [
    *dashboard.urlpatterns,
    *job_list.urlpatterns,
    *job_new.urlpatterns,
    *job_detail.urlpatterns,
    *job_actions.urlpatterns,
    *schedules.urlpatterns,
    *layout.urlpatterns,
    *settings.urlpatterns,
    *settings_keys.urlpatterns,
    *settings_webhooks.urlpatterns,
]

from jobs.views import dashboard, job_actions, job_detail, job_list, job_new, layout

urlpatterns = [
    *dashboard.urlpatterns,
    *job_list.urlpatterns,
    *job_new.urlpatterns,
    *job_detail.urlpatterns,
    *job_actions.urlpatterns,
    *layout.urlpatterns,
]

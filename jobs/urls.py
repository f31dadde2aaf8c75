from django.urls import path
from django.views.generic import RedirectView

# The pages (dashboard, jobs, new batch) come with the web UI; until then the admin is the UI.
urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
]

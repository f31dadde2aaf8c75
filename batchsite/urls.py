from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.csp import csp_override
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analytics import urls as analytics_urls

# Swagger UI's page carries a small inline <style>; its script is served separately (the split
# view), so only style-src is relaxed, and only here.
docs_view = csp_override(settings.SECURE_CSP_THIRD_PARTY_UI)(
    SpectacularSwaggerSplitView.as_view(url_name="schema")
)

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin, the browsable API).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("django-rq/", include("django_rq.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before the api/ include, which would otherwise take these paths.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", docs_view, name="api-docs"),
    path("api/analytics/", include(analytics_urls.api_urlpatterns)),
    path("api/", include("jobs.api.urls")),
    path("", include("jobs.urls")),
    path("", include(analytics_urls.urlpatterns)),
]

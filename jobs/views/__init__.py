"""Pages: server-rendered templates, live in the browser through static/js/live.js.

One module per page (dashboard, job list, new batch, job detail) plus the layout's own partials;
each module has its `urlpatterns`, gathered by jobs/urls.py. Views follow the house pattern:
permission helper first (`jobs.access`), then a service call or a query, then render.
"""

"""Settings for batchsite, read from the environment (see README "Configuration").

Defaults run out of the box on one machine: SQLite in WAL mode under var/ and Redis on localhost.
DATABASE_URL and REDIS_URL switch to a real deployment.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from django.utils.csp import CSP

from batchsite.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BATCHSITE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, else a random key generated once and kept in var/ (never in git)."""
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Cookies and HTTPS ----------------------------------------------------------------------------
# On one machine the product is plain http://127.0.0.1; behind TLS (docs/deploy.md) set
# DJANGO_HTTPS=1: secure cookies, HSTS, redirect to https, and the proxy's X-Forwarded-Proto
# trusted. `manage.py check --deploy` is clean with it.
HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("DJANGO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preloading is a commitment the operator makes for the whole domain (DJANGO_HSTS_PRELOAD=1),
# not one this product makes for them; so check --deploy is told that it is deliberate.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("DJANGO_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "channels",
    "axes",
    "jobs",
    "analytics",
]

MIDDLEWARE = [
    "jobs.metrics.RequestTimingMiddleware",  # first: the whole answer time, for /metrics
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
    # After auth: the signed-in user's time zone, and the theme cookie kept in step with it.
    "jobs.account.middleware.PreferencesMiddleware",
    # Last: times the API views (the user is known by then, API keys included).
    "analytics.middleware.ApiTimingMiddleware",
]

# --- Login throttling (django-axes) ---------------------------------------------------------------
# Five wrong passwords for one username from one address lock that pair out for 15 minutes (the
# login page and the admin's); a right password resets the count. API keys are not passwords and
# are not affected.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("BATCHSITE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("BATCHSITE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env_int("BATCHSITE_PROXY_COUNT", 0) or None
AXES_VERBOSE = False

# --- Content Security Policy (Django's own, 6.0+) ------------------------------------------------
# Our pages load scripts and styles from static/ only: no inline code, data to JS through
# json_script. The WebSocket is same-origin ('self' covers ws:/wss: to this host). The API docs
# view relaxes style-src for Swagger UI's own inline styles (batchsite/urls.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Pages we do not template ourselves (Swagger UI, DRF's browsable API) carry inline styles.
SECURE_CSP_THIRD_PARTY_UI = {**SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]}

ROOT_URLCONF = "batchsite.urls"
ASGI_APPLICATION = "batchsite.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jobs.context_processors.layout",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite is shared by several processes (daphne, workers, scheduler): WAL, IMMEDIATE transactions
# and a generous busy timeout make "database is locked" a bug rather than an expected error.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'batchsite.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30),
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA mmap_size=134217728;"
        ),
    }
    # Tests run workers in other threads and processes, so the test database must be a file;
    # one per test run, so that two runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # Behind pgbouncer in transaction mode (DATABASE_PGBOUNCER=1) a session's state does not
    # survive its transaction: no server-side cursors (QuerySet.iterator() falls back to fetching
    # in chunks client-side). Prepared statements stay off, as Django leaves psycopg 3
    # (prepare_threshold None), and parameters are bound client-side (no server_side_binding).
    # See docs/deploy.md, "PostgreSQL and pgbouncer".
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DATABASE_PGBOUNCER", False)
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3" and env_str(
    "BATCHSITE_TEST_DB_NAME"
):
    # Two test runs against one PostgreSQL server need their own test databases.
    DATABASES["default"]["TEST"] = {"NAME": env_str("BATCHSITE_TEST_DB_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, RQ, Channels --------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL") or "redis://127.0.0.1:6379/0"

# Queue names are a contract: rqworker urgent high default low.
JOB_QUEUES = ("urgent", "high", "default", "low")
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for name in JOB_QUEUES}
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "jobs.worker.Worker"}
RQ_SHOW_ADMIN_LINK = True

# Redis pub/sub ignores database indexes: the channel prefix carries REDIS_URL's index, so
# deployments, test runs and benchmarks sharing one Redis do not hear each other's events.
_REDIS_DB = (REDIS_URL.rsplit("/", 1)[-1].split("?")[0] or "0") if "/" in REDIS_URL[8:] else "0"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": env_str("BATCHSITE_CHANNEL_PREFIX") or f"batchsite{_REDIS_DB}",
        },
    }
}

# The cache is shared by every daphne process (API throttles count per key or user across all of
# them), so it lives in Redis; the prefix keeps its keys apart from RQ's in the same database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "batchsite",
    }
}

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's default hashers unless BATCHSITE_PASSWORD_HASHERS names others (dotted paths, comma-
# separated). The test run sets a fast one (tests/testenv.py): a user per test with PBKDF2's
# million iterations costs seconds on a busy machine.
if env_list("BATCHSITE_PASSWORD_HASHERS"):
    PASSWORD_HASHERS = env_list("BATCHSITE_PASSWORD_HASHERS")
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves static files from daphne: collected ones (manage.py collectstatic, for
# deployments) and, on one machine, straight from the apps and static/ without a collect step.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobs.api.auth.BearerKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "jobs.api.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_PARSER_CLASSES": [
        "jobs.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {"submit": env_str("BATCHSITE_SUBMIT_RATE", "120/minute")},
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "batchsite API",
    "DESCRIPTION": "Submit batches of URLs, watch them being processed, fetch the results.",
    "VERSION": "1",
    # The schema and docs endpoints are not part of the API they describe.
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the drf-spectacular-sidecar wheel, served by WhiteNoise: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # "Authorize" offers the API key: jobs/api/schema.py describes BearerKeyAuthentication as the
    # bearerAuth security scheme, next to DRF's session cookie.
    # validatorUrl None: Swagger UI would otherwise send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        "persistAuthorization": True,
        "validatorUrl": None,
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "jobs.api.schema.add_error_responses",
        "jobs.api.schema.add_event_streams",
    ],
}

# --- Logging --------------------------------------------------------------------------------
# BATCHSITE_LOG_FORMAT=json: one JSON object per line (jobs/logcontext.py), with the job and
# item ids a line is about where known; plain text otherwise.
BATCHSITE_LOG_FORMAT = "json" if env_str("BATCHSITE_LOG_FORMAT").lower() == "json" else "plain"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "jobs.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "jobs.logcontext.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": BATCHSITE_LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("BATCHSITE_LOG_LEVEL", "INFO")},
    "loggers": {"rq.worker": {"level": env_str("BATCHSITE_RQ_LOG_LEVEL", "WARNING")}},
}

# --- batchsite ------------------------------------------------------------------------------
# Fetching user-given URLs is an SSRF risk: private, loopback, link-local, multicast, reserved and
# metadata addresses are refused unless listed here (comma-separated CIDRs).
BATCHSITE_ALLOWED_NETWORKS = env_list("BATCHSITE_ALLOWED_NETWORKS")
# Extra processors, as dotted paths to Processor subclasses.
BATCHSITE_PROCESSORS = env_list("BATCHSITE_PROCESSORS")
BATCHSITE_USER_AGENT = env_str(
    "BATCHSITE_USER_AGENT", "batchsite/0.1 (+https://github.com/batchsite/batchsite)"
)
BATCHSITE_MAX_URLS_PER_BATCH = env_int("BATCHSITE_MAX_URLS_PER_BATCH", 100_000)
BATCHSITE_MAX_UPLOAD_BYTES = env_int("BATCHSITE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
BATCHSITE_RETENTION_DAYS = env_int("BATCHSITE_RETENTION_DAYS", 30)
# Rows deleted per transaction by retention (jobs.retention), and how often it runs.
BATCHSITE_RETENTION_BATCH = env_int("BATCHSITE_RETENTION_BATCH", 1000)
BATCHSITE_RETENTION_INTERVAL_SECONDS = env_int("BATCHSITE_RETENTION_INTERVAL_SECONDS", 3600)
# How often the scheduler looks for due schedules (jobs.schedules).
BATCHSITE_SCHEDULE_TICK_SECONDS = env_int("BATCHSITE_SCHEDULE_TICK_SECONDS", 20)
# Request bodies (a JSON list of 100,000 URLs is ~5 MB) may be as large as an upload.
DATA_UPLOAD_MAX_MEMORY_SIZE = BATCHSITE_MAX_UPLOAD_BYTES + 1024 * 1024
BATCHSITE_MAX_RESPONSE_BYTES = env_int("BATCHSITE_MAX_RESPONSE_BYTES", 5 * 1024 * 1024)
BATCHSITE_MAX_REDIRECTS = env_int("BATCHSITE_MAX_REDIRECTS", 10)
# Chunk runner: items claimed by one RQ job, how many RQ jobs may share a job at once, how long
# one RQ job keeps claiming before it hands over, and how often it writes state.
BATCHSITE_CHUNK_SIZE = env_int("BATCHSITE_CHUNK_SIZE", 10_000)
# A job is shared by as many runners as workers listen on its queue, but no runner gets fewer
# items than this (a small job is not worth a fork per worker).
BATCHSITE_MIN_RUNNER_ITEMS = env_int("BATCHSITE_MIN_RUNNER_ITEMS", 100)
BATCHSITE_MAX_PARALLEL_CHUNKS = env_int("BATCHSITE_MAX_PARALLEL_CHUNKS", 16)
BATCHSITE_SLICE_SECONDS = env_float("BATCHSITE_SLICE_SECONDS", 60.0)
# How a runner claims items on PostgreSQL: "skip_locked" (SELECT … FOR UPDATE SKIP LOCKED, the
# default: no runner waits for another's claim) or "conditional" (the plain conditional UPDATE;
# kept as bench/scale.py's baseline).
BATCHSITE_PG_CLAIM = env_str("BATCHSITE_PG_CLAIM", "skip_locked")
if BATCHSITE_PG_CLAIM not in ("skip_locked", "conditional"):
    raise ImproperlyConfigured("BATCHSITE_PG_CLAIM must be skip_locked or conditional")
BATCHSITE_FLUSH_ITEMS = env_int("BATCHSITE_FLUSH_ITEMS", 500)
BATCHSITE_FLUSH_SECONDS = env_float("BATCHSITE_FLUSH_SECONDS", 0.25)
# A runner whose heartbeat is older than this is dead; its items are put back by reconcile.
BATCHSITE_RUNNER_STALE_SECONDS = env_float("BATCHSITE_RUNNER_STALE_SECONDS", 60.0)
BATCHSITE_RECONCILE_SECONDS = env_int("BATCHSITE_RECONCILE_SECONDS", 30)
# A runner rides out a database that is unavailable (dropped connection, "database is locked") for
# this long, retrying its flush; past it the runner stops and reconcile puts its items back. Keep it
# below RUNNER_STALE_SECONDS, so that a runner gives up before reconcile takes it for dead.
BATCHSITE_DB_RETRY_SECONDS = env_float("BATCHSITE_DB_RETRY_SECONDS", 30.0)
# Live events: a job's state at most every EVENT_INTERVAL seconds, slower (up to MAX_INTERVAL) when
# the sockets watching it would need more than FANOUT_BUDGET messages per second. The budget is
# half of what one daphne process delivered in bench/events.py (all of 16,000 messages/s offered,
# ≈ 60 µs of CPU each, with the shared fan-out of jobs.fanout): the other half is left for other
# jobs' events, snapshots and HTTP.
BATCHSITE_EVENT_INTERVAL = env_float("BATCHSITE_EVENT_INTERVAL", 0.25)
BATCHSITE_EVENT_FANOUT_BUDGET = env_int("BATCHSITE_EVENT_FANOUT_BUDGET", 8000)
BATCHSITE_EVENT_MAX_INTERVAL = env_float("BATCHSITE_EVENT_MAX_INTERVAL", 1.5)
# queue_updated: sampled this often by the scheduler (and sent when a job is enqueued or ends).
BATCHSITE_QUEUE_EVENT_SECONDS = env_int("BATCHSITE_QUEUE_EVENT_SECONDS", 10)
# Sockets and event streams: per-user cap, SSE heartbeat, and the write buffer past which a
# client that does not read is dropped.
BATCHSITE_MAX_SOCKETS_PER_USER = env_int("BATCHSITE_MAX_SOCKETS_PER_USER", 50)
BATCHSITE_SSE_HEARTBEAT = env_float("BATCHSITE_SSE_HEARTBEAT", 15.0)
BATCHSITE_WS_MAX_BUFFER = env_int("BATCHSITE_WS_MAX_BUFFER", 1024 * 1024)
# Retries: exponential backoff from BASE seconds, capped; a longer Retry-After is not waited for.
BATCHSITE_RETRY_BACKOFF_BASE = env_float("BATCHSITE_RETRY_BACKOFF_BASE", 1.0)
BATCHSITE_RETRY_BACKOFF_MAX = env_float("BATCHSITE_RETRY_BACKOFF_MAX", 60.0)

# --- Analytics rollups ---------------------------------------------------------------------------
# Minute rows are kept this many hours, hour rows this many days (then folded into day rows),
# queue-depth samples (every QUEUE_SAMPLE_SECONDS) this many hours. API timings are written at
# most every API_FLUSH_SECONDS per process (0: with every request).
BATCHSITE_ANALYTICS_MINUTE_RETENTION_HOURS = env_int(
    "BATCHSITE_ANALYTICS_MINUTE_RETENTION_HOURS", 48
)
BATCHSITE_ANALYTICS_HOUR_RETENTION_DAYS = env_int("BATCHSITE_ANALYTICS_HOUR_RETENTION_DAYS", 14)
BATCHSITE_ANALYTICS_QUEUE_RETENTION_HOURS = env_int("BATCHSITE_ANALYTICS_QUEUE_RETENTION_HOURS", 48)
BATCHSITE_ANALYTICS_QUEUE_SAMPLE_SECONDS = env_int("BATCHSITE_ANALYTICS_QUEUE_SAMPLE_SECONDS", 10)
BATCHSITE_ANALYTICS_API_FLUSH_SECONDS = env_float("BATCHSITE_ANALYTICS_API_FLUSH_SECONDS", 5.0)

# --- Settings page: quotas, webhooks, e-mail ------------------------------------------------
# A new user's quota (staff change anyone's in the admin; 0 here means no limit).
BATCHSITE_QUOTA_MAX_URLS_PER_BATCH = env_int(
    "BATCHSITE_QUOTA_MAX_URLS_PER_BATCH", BATCHSITE_MAX_URLS_PER_BATCH
)
BATCHSITE_QUOTA_MAX_RUNNING_JOBS = env_int("BATCHSITE_QUOTA_MAX_RUNNING_JOBS", 20)
BATCHSITE_QUOTA_JOBS_PER_HOUR = env_int("BATCHSITE_QUOTA_JOBS_PER_HOUR", 200)
# Webhook deliveries: the RQ queue they run on, seconds per attempt, and how much of a
# receiver's answer the delivery log keeps.
BATCHSITE_WEBHOOK_QUEUE = env_str("BATCHSITE_WEBHOOK_QUEUE", "high")
BATCHSITE_WEBHOOK_TIMEOUT = env_float("BATCHSITE_WEBHOOK_TIMEOUT", 10.0)
BATCHSITE_WEBHOOK_EXCERPT_CHARS = env_int("BATCHSITE_WEBHOOK_EXCERPT_CHARS", 500)
# Links in e-mails and webhook payloads start with this (the address people open the site at).
BATCHSITE_BASE_URL = env_str(
    "BATCHSITE_BASE_URL", f"http://{env_str('HOST', '127.0.0.1')}:{env_int('PORT', 8000)}"
).rstrip("/")
# Notification e-mail (Django 6.1's MAILERS): SMTP to EMAIL_HOST. Without one, e-mail goes to
# an MTA on localhost:25 (or, with DJANGO_DEBUG, to the worker's log), and the preferences page
# says that e-mail is not set up. DJANGO_EMAIL_BACKEND picks another backend (a dotted path).
_SMTP_HOST = env_str("EMAIL_HOST")
BATCHSITE_EMAIL_CONFIGURED = bool(_SMTP_HOST or env_str("DJANGO_EMAIL_BACKEND"))
MAILERS = {
    "default": {
        "BACKEND": env_str(
            "DJANGO_EMAIL_BACKEND",
            "django.core.mail.backends.console.EmailBackend"
            if DEBUG and not _SMTP_HOST
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
        "OPTIONS": {}
        if DEBUG and not _SMTP_HOST
        else {
            "host": _SMTP_HOST or "localhost",
            "port": env_int("EMAIL_PORT", 25),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": env_int("EMAIL_TIMEOUT", 30),
        },
    }
}
# Alerts (jobs/alerts.py): failure rate above PERCENT after MIN_ITEMS finished items (users may
# set their own in preferences); an item processing longer than 3x its processor's p95, and never
# less than FLOOR seconds, is stuck (checked every STUCK_CHECK seconds by the scheduler).
# /metrics (Prometheus text format) answers only `Authorization: Bearer <this>`; unset: 404.
BATCHSITE_METRICS_TOKEN = env_str("BATCHSITE_METRICS_TOKEN")
BATCHSITE_ALERT_FAILURE_PERCENT = env_int("BATCHSITE_ALERT_FAILURE_PERCENT", 50)
BATCHSITE_ALERT_MIN_ITEMS = env_int("BATCHSITE_ALERT_MIN_ITEMS", 20)
BATCHSITE_ALERT_STUCK_FLOOR_SECONDS = env_float("BATCHSITE_ALERT_STUCK_FLOOR_SECONDS", 60.0)
BATCHSITE_ALERT_STUCK_CHECK_SECONDS = env_int("BATCHSITE_ALERT_STUCK_CHECK_SECONDS", 60)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "batchsite <batchsite@localhost>")

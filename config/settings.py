"""Ledgerline settings: one module, read from the environment once.

Every variable is documented in `.env.example`. Defaults run on one laptop (SQLite under `var/`,
an in-process cache); `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

import sys
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local `.env` is a convenience for developers; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _require(name):
    """Stop start-up with one line that says what to set (production must not guess)."""
    sys.exit(
        f"Ledgerline cannot start: {name} is not set and DEBUG is off. "
        f"Set {name} in the environment (see .env.example), or set DEBUG=true for local use."
    )


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        _require("SECRET_KEY")
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if not DEBUG:
        _require("ALLOWED_HOSTS")
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "core.admin_site.LedgerlineAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "audit",
    "customers",
    "accounts",
    "lending",
]

MIDDLEWARE = [
    # Outermost: request id, timing, query counting and the per-request log line.
    "core.middleware.RequestContextMiddleware",
    # Before sessions, auth and the database: liveness answers with none of them.
    "core.health.LiveProbeMiddleware",
    # Cache-Control: no-store on every API and admin response, error pages included.
    "core.security.headers.NoStoreMiddleware",
    # NUL characters in query strings refused; chunked bodies read or refused (411).
    "core.request_guards.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Idle expiry and "log out everywhere": may turn the user anonymous before anything uses it.
    "core.security.sessions.StaffSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After authentication: partner key (API) or staff membership (admin) decides the tenant;
    # staff of a suspended or closed tenant are logged out here.
    "core.middleware.TenantMiddleware",
    "core.security.two_factor.TwoFactorMiddleware",
    "core.api.middleware.ApiErrorMiddleware",
    # Last, as django-axes requires: turns a login refused for lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ledgerline.sqlite3'}"),
}
DB_POOL_MIN = env.int("DB_POOL_MIN", default=2)
DB_POOL_MAX = env.int("DB_POOL_MAX", default=10)
# The role `manage.py migrate` connects as (the owner of the tables), when DATABASE_URL is the
# app's ordinary role; same database, other credentials (core/management/commands/migrate.py).
_migrate_url = env.str("MIGRATE_DATABASE_URL", default="")
MIGRATE_DATABASE = env.db_url_config(_migrate_url) if _migrate_url else None
# The ordinary role the test suite acts as on PostgreSQL: tests/conftest.py creates the test
# database as DATABASE_URL's role, then switches to this one (SET ROLE). See docs/development.md.
TEST_APP_ROLE = env.str("TEST_APP_ROLE", default="ledgerline_app")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend plus the tenant sent with every transaction (row-level security).
    DATABASES["default"]["ENGINE"] = "core.db.backend"
    DATABASES["default"].setdefault("OPTIONS", {})
    # Parameters bound server-side, and a statement prepared once it has run 5 times on a
    # connection: PostgreSQL then parses and plans it once (docs/development.md). Off for a
    # pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
    if DB_POOL_MAX > 0:
        # Django's built-in psycopg pool; persistent connections must be off with it.
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": DB_POOL_MIN,
            "max_size": DB_POOL_MAX,
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("TEST", {}).update(
        {"NAME": env.str("TEST_DATABASE_NAME", default="test_ledgerline")}
    )
    if MIGRATE_DATABASE and MIGRATE_DATABASE["NAME"] != DATABASES["default"]["NAME"]:
        sys.exit(
            "Ledgerline cannot start: MIGRATE_DATABASE_URL must name the same database as "
            "DATABASE_URL (it only changes the role migrations connect as)."
        )
else:
    VAR_DIR.mkdir(exist_ok=True)
    # Wait for a writer instead of failing at once when two requests (or a request and the
    # audit sealer) write together: each transaction takes the write lock when it begins
    # (BEGIN IMMEDIATE), so it waits up to `timeout` seconds for it. A transaction that began
    # as a reader and then writes could not wait: SQLite refuses it at once ("database is
    # locked"), since waiting could deadlock.
    sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    sqlite_options.setdefault("timeout", 20)
    sqlite_options.setdefault("transaction_mode", "IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions ---------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="ledgerline"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "ledgerline",
        }
    }

# --- Security -------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers probe health over plain HTTP inside the network: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets (and strips incoming) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Number of trusted proxies in front of the app; the client IP is taken from X-Forwarded-For
# only this many hops back, so a client cannot forge its audited address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Staff login: lockout, sessions, second factor ------------------------------------------
# django-axes first: it refuses a locked-out user before any password is checked. It needs the
# request: `authenticate(request, ...)` (the admin login does; the test client's `login()` must
# be given `request=`); `force_login()` skips authentication and works as usual.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]


def _lockout_parameters(value):
    """'username,ip_address' locks each independently; 'username+ip_address' the pair only."""
    known = {"username", "ip_address", "user_agent"}
    parameters = []
    for item in value.split(","):
        combo = [part.strip() for part in item.split("+") if part.strip()]
        if not combo:
            continue
        if not set(combo) <= known:
            sys.exit(
                f"Ledgerline cannot start: LOGIN_LOCKOUT_PARAMETERS has '{item.strip()}'; "
                f"use {', '.join(sorted(known))}, joined with ',' (each) or '+' (together)."
            )
        parameters.append(combo[0] if len(combo) == 1 else combo)
    return parameters or ["username", "ip_address"]


AXES_ENABLED = env.bool("LOGIN_LOCKOUT_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = _lockout_parameters(
    env.str("LOGIN_LOCKOUT_PARAMETERS", default="username,ip_address")
)
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failure with its address and user agent
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"  # the audited address, proxy-aware
AXES_LOCKOUT_TEMPLATE = "ledgerline/lockout.html"
AXES_ENABLE_ADMIN = False  # our own read-only admin instead (core/security/admin.py)
AXES_VERBOSE = False

# Idle expiry: a session unused for this long ends. The session store keeps a session a minute
# longer, since its expiry is refreshed at most once a minute (core/security/sessions.py).
STAFF_IDLE_TIMEOUT = timedelta(minutes=env.int("STAFF_IDLE_TIMEOUT_MINUTES", default=30))
SESSION_COOKIE_AGE = int(STAFF_IDLE_TIMEOUT.total_seconds()) + 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# TOTP second factor: required for every staff user when true; with it off, a user who enrolled
# a device must still give a code.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Ledgerline")

# Content-Security-Policy (django-csp): the admin runs on its own static scripts and styles
# only; nothing inline, nothing from elsewhere, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation and static files --------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Hashed, compressed static files need `collectstatic` first; off for DEBUG and the test suite.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if not STATIC_MANIFEST
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Partner API ----------------------------------------------------------------------------
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=600)  # requests per key per window
API_RATE_LIMIT_WINDOW = env.int("API_RATE_LIMIT_WINDOW", default=60)  # seconds
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# Django refuses larger bodies outright; keep it just above the API's own limit so the API
# answers its own clear problem first.
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES + 1

# --- Customers ------------------------------------------------------------------------------
CUSTOMER_MINIMUM_AGE = env.int("CUSTOMER_MINIMUM_AGE", default=18)
# Region of phone numbers typed without a country code ("020 7946 0958"); "" accepts only
# numbers with one ("+44 20 7946 0958").
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="GB").upper()
if DEFAULT_PHONE_REGION:
    import phonenumbers

    if DEFAULT_PHONE_REGION not in phonenumbers.SUPPORTED_REGIONS:
        sys.exit(
            "Ledgerline cannot start: DEFAULT_PHONE_REGION must be an ISO 3166-1 alpha-2 code "
            f"with a numbering plan, e.g. GB (got {DEFAULT_PHONE_REGION!r})."
        )
try:
    UBO_THRESHOLD_PERCENT = Decimal(env.str("UBO_THRESHOLD_PERCENT", default="25"))
except InvalidOperation:
    sys.exit("Ledgerline cannot start: UBO_THRESHOLD_PERCENT must be a number, e.g. 25.")

# --- Audit trail ----------------------------------------------------------------------------
# Banking record-keeping rules ask for years: purge_audit refuses to go below this many days.
AUDIT_MIN_RETENTION_DAYS = env.int("AUDIT_MIN_RETENTION_DAYS", default=7 * 365 + 2)
# Seal each transaction's events into the hash chain right after it commits. Off: only
# `manage.py seal_audit_chain` (run it from cron either way, as the safety net) seals.
AUDIT_SEAL_ON_COMMIT = env.bool("AUDIT_SEAL_ON_COMMIT", default=True)
# Seconds a process's background sealer gathers commits before sealing them in one pass (so
# no request waits for sealing); 0 seals in the committing thread right after each commit.
try:
    AUDIT_SEAL_DELAY = env.float("AUDIT_SEAL_DELAY", default=0.2)
except ValueError:
    AUDIT_SEAL_DELAY = -1
if not 0 <= AUDIT_SEAL_DELAY <= 60:
    sys.exit("Ledgerline cannot start: AUDIT_SEAL_DELAY must be seconds from 0 to 60, e.g. 0.2.")

# --- Observability --------------------------------------------------------------------------
SLOW_QUERY_MS = env.int("SLOW_QUERY_MS", default=200)
# /health/ready waits at most this long (seconds) for a database connection (libpq: >= 2).
HEALTH_CHECK_TIMEOUT = env.int("HEALTH_CHECK_TIMEOUT", default=2)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "core.logging.RequestContextFilter"}},
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": "line",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our 404/500 answers under /api/ are logged by our own middleware, once.
        "django.request": {"level": "ERROR"},
    },
}

SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False
# Staff see old versions but cannot revert to them: a revert would bypass the services' rules.
SIMPLE_HISTORY_REVERT_DISABLED = True
LOGIN_URL = "admin:login"

"""citygis settings: the one place that reads the environment (documented in .env.example)."""

import hashlib
import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED_DATA_DIR = Path(os.environ.get("CITYGIS_SHARED_DATA", BASE_DIR.parent / "shared" / "data"))
VAR_DIR = BASE_DIR / "var"

# The project-local cluster that scripts/db.sh starts listens on a socket only; its directory name
# is derived from the checkout path exactly as in scripts/env.sh.
RUN_DIR = Path("/tmp") / ("citygis-" + hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:10])
LOCAL_DATABASE: dj_database_url.DBConfig = {
    "ENGINE": "django.contrib.gis.db.backends.postgis",
    "NAME": "citygis",
    "USER": "citygis",
    "HOST": str(RUN_DIR),
    "PORT": os.environ.get("CITYGIS_PG_PORT", "54329"),
}


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def _env_box(name: str) -> tuple[float, float, float, float] | None:
    """Four numbers, west,south,east,north; None when unset. Anything else stops the start."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} takes four numbers, west,south,east,north (lon/lat), not {text!r}."
        ) from None
    return west, south, east, north


# The project-local cluster (no DATABASE_URL) is a developer's: trust authentication, a socket
# under /tmp, synchronous_commit off. A checkout on it is a demo or a development machine, so
# DEBUG defaults on there; any other database is a deployment, where DEBUG defaults off and the
# settings below refuse to start without a secret key and the hosts they answer to.
DEBUG = _env_bool("DEBUG", not os.environ.get("DATABASE_URL"))
DEV_SECRET_KEY = "citygis-dev-only-secret-change-me-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
# Loopback only unless configured: a Host header that is not ours gets a 400, never a link.
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")
# Where the service is reached (https://gis.example.city): absolute links in TileJSON, OGC,
# Open311 and residents' links are made from it; unset, from the request's checked Host.
PUBLIC_URL = os.environ.get("PUBLIC_URL", "").rstrip("/")
if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG off citygis refuses the development key "
            "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if "ALLOWED_HOSTS" not in os.environ:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set: with DEBUG off name the hosts citygis answers to "
            "(ALLOWED_HOSTS=gis.example.city)."
        )
if "*" in ALLOWED_HOSTS and not PUBLIC_URL:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS=* accepts any Host header: set PUBLIC_URL, so that links are never made "
        "from an unchecked header."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before the apps whose tasks.py it discovers: its app must be ready when they import it.
    "procrastinate.contrib.django",
    "axes",
    "corsheaders",
    "csp",
    "gis.apps.GisCoreConfig",
    "layers",
    "orders.appeals",
    "orders.permits",
    "orders.planning",
    "orders.operations",
    "tiles",
    "importers",
]

MIDDLEWARE = [
    # First: its id is on every answer, and it turns what no view caught into a JSON 500.
    "gis.middleware.RequestIdMiddleware",
    # Around everything else: requests and latencies of Django's views for /metrics (the ASGI
    # front counts its own, tiles.metrics).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # A request that may write reads only the primary, and what it wrote holds reads off the
    # replica until the replica has it (gis.replica).
    "gis.replica.ReplicaMiddleware",
    # A map on another origin reads tiles, TileJSON, the catalog and OGC (CORS_URLS_REGEX); it
    # answers their preflights itself, and marks every answer there, refusals too.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "gis.middleware.RejectNulMiddleware",
    # A query parameter the operation does not document: 400 naming it; a body over its view's
    # limit: 413 (gis.strict).
    "gis.strict.StrictInputMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switch's cookie, else Accept-Language, else CITY_LANGUAGE.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Outside axes: it counts the 429 of a locked-out login too, by the view that was asked.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last: it answers a locked-out login (django-axes) with lockout_response's 429.
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked-out username before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Security: HTTPS, cookies, content policy, limits on guessing ---------------------------
# With DEBUG off (production) the service is reached over HTTPS, usually through a proxy that
# terminates TLS: it must set X-Forwarded-Proto, and SECURE_PROXY_SSL_HEADER trusts it (only set
# it behind such a proxy: a client could send the header itself otherwise).
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The load balancer's health check and Prometheus's scrape come over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(12 * 3600)))  # one shift
# Trusted proxies in front of citygis: the client's address is the one they name in
# X-Forwarded-For (gis.throttling.client_ip), for every limit below and DRF's throttles.
NUM_PROXIES = int(os.environ.get("NUM_PROXIES", "0"))

# Every page, the admin's included, runs only our own scripts and styles: nothing inline, no
# other origin. MapLibre starts its workers from blob: URLs and draws images from blob:/data:.
# An uploaded document is served with its own sandboxed policy (orders.permits.api.restoration).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "child-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Failed secrets (tokens, integration keys) per client address before a 429, and the window.
AUTH_FAILURE_LIMIT = int(os.environ.get("AUTH_FAILURE_LIMIT", "10"))
AUTH_FAILURE_WINDOW_S = int(os.environ.get("AUTH_FAILURE_WINDOW_S", "600"))
# Passwords (the admin, the browser login): django-axes, per username and address.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "gis.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "gis.throttling.axes_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

ROOT_URLCONF = "gis.urls"
ASGI_APPLICATION = "gis.asgi.application"
AUTH_USER_MODEL = "gis_core.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gis" / "templates"],
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

# Under ASGI (the production server) Django runs each request's sync code in a thread of its own,
# so a persistent connection (CONN_MAX_AGE) is opened anew for every request — about 20 ms with
# PostGIS's type lookups, more than most API queries take — and the old ones linger. A pool per
# worker process hands out a warm connection instead; 0 switches it off (CONN_MAX_AGE then applies).
DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "8"))
# Seconds a request waits for a pooled connection (Django's pool and the tile front's) before
# it answers 503: while PostgreSQL is away the pools reconnect by themselves, and clients are
# told to retry instead of hanging.
DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "3"))
WEB_THREADS = int(os.environ.get("WEB_THREADS", str(DB_POOL_SIZE or 8)))
"""Threads per server process that run Django's views (gis/asgi.py)."""
_DATABASE = (
    dj_database_url.parse(
        os.environ["DATABASE_URL"], engine="django.contrib.gis.db.backends.postgis"
    )
    if os.environ.get("DATABASE_URL")
    else LOCAL_DATABASE
)
DATABASES = {
    "default": {
        **_DATABASE,
        "OPTIONS": {
            **_DATABASE.get("OPTIONS", {}),
            **(
                {"pool": {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": DB_POOL_TIMEOUT}}
                if DB_POOL_SIZE
                else {}
            ),
        },
        "CONN_MAX_AGE": 0 if DB_POOL_SIZE else int(os.environ.get("CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": not DB_POOL_SIZE,
        # Lets two test runs share a cluster (e.g. a benchmark beside the suite).
        "TEST": {"NAME": os.environ.get("CITYGIS_TEST_DB", "test_citygis")},
    }
}
# A replica busy or away is no reason to wait long: the read goes to the primary instead.
REPLICA_POOL_TIMEOUT = min(DB_POOL_TIMEOUT, 0.5)
# A streaming replica (hot standby) of the primary for the reads that may go there: tiles, the
# lookups, OGC API Features (gis.replica). Each read goes there only when the replica has replayed
# every change this process has heard of, and is at most REPLICA_MAX_LAG seconds behind; else
# it goes to the primary. Under tests it mirrors the default database (the replica test points
# it at a real standby itself).
if os.environ.get("DATABASE_REPLICA_URL"):
    _REPLICA = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"], engine="django.contrib.gis.db.backends.postgis"
    )
    DATABASES["replica"] = {
        **DATABASES["default"],
        **{k: v for k, v in _REPLICA.items() if k in ("NAME", "USER", "PASSWORD", "HOST", "PORT")},
        "OPTIONS": {
            **_REPLICA.get("OPTIONS", {}),
            **(
                {"pool": {"min_size": 1, "max_size": DB_POOL_SIZE, "timeout": REPLICA_POOL_TIMEOUT}}
                if DB_POOL_SIZE
                else {}
            ),
        },
        "TEST": {"MIRROR": "default"},
    }
REPLICA_MAX_LAG = float(os.environ.get("REPLICA_MAX_LAG", "5"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The address search (layers.search) runs one long statement that costs more to plan than to run,
# so it prepares it on each connection (Django leaves psycopg's prepared statements off for all
# its own queries). Off when a transaction-mode pooler without prepared-statement support
# (PgBouncer before 1.21) stands between citygis and PostgreSQL.
DB_PREPARED_STATEMENTS = _env_bool("DB_PREPARED_STATEMENTS", True)

# The city's language: what a page, an API error and a document speak when the browser asks for
# none of ours. Russian or Kazakh for a CIS city; English for the demo city.
LANGUAGES = [("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")]
CITY_LANGUAGE = os.environ.get("CITY_LANGUAGE", "en")
if CITY_LANGUAGE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"CITY_LANGUAGE must be one of {', '.join(dict(LANGUAGES))}.")
LANGUAGE_CODE = CITY_LANGUAGE
# How the city writes an address: "1200 North Avenue" (English) or "Покровский бульвар, 4/17 с6"
# (Russian, Kazakh): in cards, lists, search answers and documents.
ADDRESS_NUMBER_FIRST = _env_bool("ADDRESS_NUMBER_FIRST", CITY_LANGUAGE == "en")
# Claims are legal letters: Russian in a Russian or Kazakh city (Kazakh on request), English in
# the demo city; the same claim reads the same whoever downloads it.
CLAIM_LANGUAGE = os.environ.get("CLAIM_LANGUAGE", "en" if CITY_LANGUAGE == "en" else "ru")
if CLAIM_LANGUAGE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"CLAIM_LANGUAGE must be one of {', '.join(dict(LANGUAGES))}.")
# locale/ holds the catalogs of every app (scripts/messages.sh writes there); no app has its
# own, so that makemessages writes every string to the one place.
LOCALE_PATHS = [Path(os.environ.get("CITYGIS_LOCALE_DIR", BASE_DIR / "locale"))]
LANGUAGE_COOKIE_NAME = "citygis_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Dates as each language writes them: ДД.ММ.ГГГГ in ru/kk, ISO in en (gis/formats).
FORMAT_MODULE_PATH = ["gis.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "gis" / "static", ("vendor", VAR_DIR / "vendor")]
# WhiteNoise indexes the finders' files at start-up too, not only STATIC_ROOT: the map's JS and CSS
# are served from the checkout even before a collectstatic (the browser tests rely on it);
# scripts/run.sh still collects into STATIC_ROOT.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# Cross-origin reads (django-cors-headers) of what a map on another site loads: tiles, TileJSON,
# the /tiles/ catalog, OGC API Features. Any origin by default, or only CORS_ALLOWED_ORIGINS
# (comma list). Never with credentials: a browser sends no cookie across origins, so another
# site sees what the public sees, or what a token it sends itself may see.
CORS_URLS_REGEX = r"^/(tiles|ogc)/.*$"
CORS_ALLOWED_ORIGINS = [o for o in os.environ.get("CORS_ALLOWED_ORIGINS", "").split(",") if o]
CORS_ALLOW_ALL_ORIGINS = not CORS_ALLOWED_ORIGINS
CORS_ALLOW_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_ALLOW_CREDENTIALS = False
# A PMTiles reader on another origin asks for byte ranges of /tiles/public.pmtiles and compares
# ETags to notice a new archive.
CORS_ALLOW_HEADERS = (*default_headers, "range")
CORS_EXPOSE_HEADERS = ("ETag", "X-Request-ID", "Content-Range", "Accept-Ranges")

# The largest request body an API view takes unless it says (``max_body_bytes``): an appeal,
# a permit with its area, a plan. Larger ones answer 413 before they are read (gis.strict).
MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", 256 * 1024))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gis.authentication.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "gis.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "gis.exceptions.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": ["gis.throttling.AnonWriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon_write": os.environ.get("ANON_WRITE_RATE", "60/min")},
    "NUM_PROXIES": NUM_PROXIES or None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "citygis API",
    "DESCRIPTION": (
        "City objects, lookup, appeals and excavation permits of a city operations centre."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs UI is served by us (no CDN: a city network may reach nothing outside).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gis.openapi.common_answers",
        "gis.openapi.operation_links",
    ],
}

# Demo city: the OSM extract loaded by `make run` (manage.py load_demo).
DEMO_OSM_FILE = Path(
    os.environ.get("DEMO_OSM_FILE", SHARED_DATA_DIR / "osm-baltimore" / "baltimore-2015.osm.pbf")
)
DEMO_CITY_NAME = os.environ.get("DEMO_CITY_NAME", "Baltimore")
# Where maps open (lon, lat, zoom): the demo city's centre unless configured.
MAP_CENTER = tuple(float(v) for v in os.environ.get("MAP_CENTER", "-76.5750,39.2850,14").split(","))
# The city's bounds (lon/lat west,south,east,north) that appeals, Open311 requests and permits
# must fall in; unset, they must lie within 2 km of a district (layers.selectors.city_contains).
CITY_BBOX = _env_box("CITY_BBOX")
# How often the /dashboard page asks whether appeals changed (an unchanged answer is a 304).
DASHBOARD_POLL_SECONDS = float(os.environ.get("DASHBOARD_POLL_SECONDS", "5"))
# OSM admin_level values imported as districts (boundary=administrative areas): in most cities
# 9 and 10 are the districts and sub-districts of the city (admin_level 8 is the city itself).
DISTRICT_ADMIN_LEVELS = tuple(
    int(v) for v in os.environ.get("DISTRICT_ADMIN_LEVELS", "9,10").split(",") if v.strip()
)

# E-mail: files under var/mail unless an SMTP host is configured (claims, department reports).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "citygis <noreply@citygis.invalid>")
EMAIL_TIMEOUT = 30

REDIS_URL = os.environ.get("REDIS_URL", "")
# Django's cache holds the limits on guessing and flooding (gis.throttling, DRF's throttles),
# which must hold across processes and machines: Redis when configured, else this database
# (the table is made by `manage.py createcachetable`, which scripts/run.sh runs).
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"citygis:{_DATABASE['NAME']}",
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "django_cache"}
    )
}

# Background jobs (procrastinate): the queue lives in this PostgreSQL database, so a job deferred
# inside a transaction commits or rolls back with the rows it is about (orders/permits claims).
# `manage.py procrastinate worker` runs them; scripts/run.sh starts one beside the web server.
PROCRASTINATE_DATABASE_ALIAS = "default"
# Overrun permits' claims: the police recipient by name (default: the only police organisation),
# and how often the worker's periodic sweep looks for overruns (cron; a 6th field is seconds).
POLICE_ORGANISATION = os.environ.get("POLICE_ORGANISATION", "")
CLAIMS_SWEEP_CRON = os.environ.get("CLAIMS_SWEEP_CRON", "*/5 * * * *")
# How often the worker refreshes the repeated_problems tile layer (orders/operations; cron).
REPEATED_PROBLEMS_CRON = os.environ.get("REPEATED_PROBLEMS_CRON", "0 * * * *")

# Call-backs to residents of done appeals (orders/appeals): unanswered calls before the appeal is
# archived as "resident unreachable", and the hours until an unanswered call is due again.
CALLBACK_MAX_TRIES = int(os.environ.get("CALLBACK_MAX_TRIES", "3"))
CALLBACK_RETRY_HOURS = float(os.environ.get("CALLBACK_RETRY_HOURS", "2"))
# Telegram intake (POST /api/intake/telegram/<secret>): off while the webhook secret is empty.
# TELEGRAM_SECRET_TOKEN, when set, must also come in X-Telegram-Bot-Api-Secret-Token (setWebhook's
# secret_token). The bot's token sends the replies; the API URL is overridable for tests.
TELEGRAM_WEBHOOK_SECRET = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
TELEGRAM_SECRET_TOKEN = os.environ.get("TELEGRAM_SECRET_TOKEN", "")
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org")

# Vector tiles (tiles/): the cache can be switched off to measure uncached rendering.
TILE_CACHE = _env_bool("TILE_CACHE", True)
TILE_CACHE_MB = int(os.environ.get("TILE_CACHE_MB", "256"))  # per worker process
TILE_MAX_AGE = int(os.environ.get("TILE_MAX_AGE", "60"))  # seconds browsers may keep public tiles
TILE_POOL_SIZE = int(os.environ.get("TILE_POOL_SIZE", "8"))  # database connections per worker
# Connections per worker for the lookups the ASGI front answers itself (/api/search, /api/nearby).
LOOKUP_POOL_SIZE = int(os.environ.get("LOOKUP_POOL_SIZE", "4"))

# Public tiles off the servers (tiles.tasks, docs/admin/exports.md): on PMTILES_CRON (empty: never)
# the worker writes the public layers (PMTILES_LAYERS, default all) over CITY_BBOX or their data,
# zooms PMTILES_MINZOOM to PMTILES_MAXZOOM (deeper zooms overzoom), to one PMTiles archive at
# PMTILES_PATH, served at /tiles/public.pmtiles with byte ranges. The map reads the public
# layers from it (or from PMTILES_URL, a copy on a CDN or in a bucket) and falls back to the live
# tiles when it is missing; logged-in users always read the live tiles.
PMTILES_PATH = Path(os.environ.get("PMTILES_PATH", MEDIA_ROOT / "tiles" / "public.pmtiles"))
PMTILES_CRON = os.environ.get("PMTILES_CRON", "*/10 * * * *")
PMTILES_LAYERS = _env_list("PMTILES_LAYERS")
PMTILES_MINZOOM = int(os.environ.get("PMTILES_MINZOOM", "0"))
PMTILES_MAXZOOM = int(os.environ.get("PMTILES_MAXZOOM", "16"))
PMTILES_URL = os.environ.get("PMTILES_URL", "")
PMTILES_MAX_AGE = int(os.environ.get("PMTILES_MAX_AGE", "60"))  # seconds browsers keep a range
if PMTILES_URL:
    _pmtiles = urlsplit(PMTILES_URL)
    if _pmtiles.scheme not in {"http", "https"} or not _pmtiles.netloc:
        raise ImproperlyConfigured(
            f"PMTILES_URL must be an absolute http(s) URL, not {PMTILES_URL!r}."
        )
    # The map fetches the copy itself: the page may connect to its origin.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"].append(
        f"{_pmtiles.scheme}://{_pmtiles.netloc}"
    )

# /metrics (gis/metrics.py): the counts are not public. A scrape is answered from the addresses or
# networks listed (as NUM_PROXIES finds the client; loopback by default), or with
# "Authorization: Bearer <METRICS_TOKEN>" from anywhere; 403 or 401 otherwise.
METRICS_ALLOWED_IPS = _env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
try:
    METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network(v, strict=False) for v in METRICS_ALLOWED_IPS]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}.") from None
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Where gunicorn's worker processes write their counts, so that a scrape of any one adds up all
# of them (prometheus_client's multiprocess mode, which reads the variable itself). Emptied before
# the server starts (scripts/run.sh, deploy/systemd); unset, each process serves its own counts.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")

# Debian 12 ships GDAL 3.6, which cannot block file/network access from spatial references.
# citygis never hands user-supplied SRS strings to GDAL: importers resolve CRSs with pyproj.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # GEOS logs a notice for every invalid geometry it checks; the import report names them.
    "loggers": {"django.contrib.gis": {"level": "ERROR"}},
}

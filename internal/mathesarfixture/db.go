package mathesarfixture

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
)

// dbPackages are the Python packages under db/, as in Mathesar's db/ (SQL it installs into
// user databases plus the Python that drives it).
var dbPackages = []string{
	"columns", "columns/operations", "connection", "constraints", "databases", "identifiers",
	"links", "records", "records/operations", "roles", "schemas", "tables", "tables/operations",
	"tests", "tests/columns", "tests/records", "tests/tables", "types", "types/custom",
	"utils",
}

// Counts under db/: .sql files in db/sql/ and Python files in dbPackages (plus db/__init__.py).
const (
	dbSQLFiles = 190
	dbPyFiles  = 160
)

func genDB(t *tree) {
	r := rng("db")
	t.addString("db/__init__.py", "")
	genPackages(t, r, "db", dbPackages, dbPyFiles-1-len(dbPackages))

	// Mathesar keeps a few large numbered scripts and many test files next to them.
	big := []string{"00_msar.sql", "05_msar.sql", "10_msar_views.sql", "20_msar_types.sql", "30_msar_custom_aggregates.sql", "40_msar_permissions.sql"}
	for _, name := range big {
		t.addString("db/sql/"+name, sqlFile(r, 60000+r.IntN(80000)))
	}
	names := uniqueNames(r, dbSQLFiles-len(big), nil, func() string {
		if r.IntN(2) == 0 {
			return "test_" + ident(r, verbs, nouns)
		}
		return ident(r, verbs, nouns)
	})
	for _, name := range names {
		dir := "db/sql"
		if strings.HasPrefix(name, "test_") {
			dir = "db/sql/test_sql_functions"
		}
		t.addString(path.Join(dir, name+".sql"), sqlFile(r, drawSize(r, 200, 20000)))
	}
}

var sqlTypes = []string{"regclass", "oid", "smallint", "text", "jsonb", "boolean", "bigint", "regrole", "regnamespace"}

// sqlFile returns PostgreSQL functions (plpgsql and SQL) of about target bytes; every
// dollar-quoted body is closed.
func sqlFile(r *rand.Rand, target int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s\n-- %s\n\nCREATE SCHEMA IF NOT EXISTS msar;\n", sentence(r), sentence(r))
	for b.Len() < target {
		b.WriteString("\n\n")
		name := ident(r, verbs, nouns)
		noun := pick(r, nouns)
		p1, p2 := noun+"_id", ident(r, adjectives, nouns)
		t1, t2, ret := pick(r, sqlTypes), pick(r, sqlTypes), pick(r, sqlTypes)
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "CREATE OR REPLACE FUNCTION\nmsar.%s(%s %s, %s %s) RETURNS %s AS $$/*\n%s\n\nArgs:\n  %s: %s\n  %s: %s\n*/\n",
				name, p1, t1, p2, t2, ret, wrap(paragraph(r, 2), 90, ""), p1, sentence(r), p2, sentence(r))
			fmt.Fprintf(&b, "SELECT %s(%s)\nFROM pg_catalog.pg_%s\nWHERE oid = %s::oid\n  AND %s IS NOT NULL;\n$$ LANGUAGE SQL STABLE RETURNS NULL ON NULL INPUT;\n",
				pick(r, []string{"to_jsonb", "count", "max", "min", "jsonb_agg"}), pick(r, []string{"attname", "relname", "nspname", "oid", "*"}),
				pick(r, []string{"class", "attribute", "namespace", "constraint", "roles"}), p1, p2)
			continue
		}
		v := ident(r, adjectives, nouns)
		fmt.Fprintf(&b, "CREATE OR REPLACE FUNCTION msar.%s(%s %s, %s %s DEFAULT NULL) RETURNS %s AS $$/*\n%s\n*/\nDECLARE\n  %s %s;\nBEGIN\n",
			name, p1, t1, p2, t2, ret, wrap(paragraph(r, 1+r.IntN(3)), 90, ""), v, ret)
		for n := 1 + r.IntN(4); n > 0; n-- {
			switch r.IntN(3) {
			case 0:
				fmt.Fprintf(&b, "  SELECT %s INTO %s FROM pg_catalog.pg_class WHERE oid = %s::oid;\n", pick(r, []string{"relname", "relnamespace", "relkind"}), v, p1)
			case 1:
				fmt.Fprintf(&b, "  IF %s IS NULL THEN\n    RAISE EXCEPTION '%s %% not found', %s USING ERRCODE = '42P01';\n  END IF;\n", v, noun, p1)
			default:
				fmt.Fprintf(&b, "  EXECUTE format('SELECT %%I FROM %%I.%%I', %s, 'msar', %s) INTO %s;\n", "'"+noun+"'", "'"+ident(r, nouns)+"'", v)
			}
		}
		fmt.Fprintf(&b, "  RETURN %s;\nEND;\n$$ LANGUAGE plpgsql;\n", v)
	}
	return b.String()
}

// templateNames are the Django templates under mathesar/templates/.
var templateNames = []string{
	"mathesar/app_styles.html", "mathesar/index.html", "mathesar/login_base.html",
	"mathesar/login.html", "mathesar/oidc_login.html", "mathesar/complete_installation.html",
	"mathesar/shared_form.html", "mathesar/error_404.html", "mathesar/error_500.html",
	"mathesar/error_403.html", "mathesar/password_reset.html", "mathesar/common_data.html",
	"mathesar/analytics.html", "registration/login.html", "registration/logged_out.html",
	"registration/password_change_form.html", "registration/password_change_done.html",
	"installation/complete_installation.html", "installation/welcome.html", "base.html",
}

func genTemplates(t *tree) {
	r := rng("templates")
	for _, name := range templateNames {
		var b strings.Builder
		if name != "base.html" {
			b.WriteString("{% extends \"base.html\" %}\n")
		}
		b.WriteString("{% load i18n static %}\n\n{% block title %}{% translate \"Mathesar\" %}{% endblock %}\n\n{% block content %}\n")
		target := drawSize(r, 400, 8000)
		for b.Len() < target {
			fmt.Fprintf(&b, "<section class=\"%s\">\n  <h2>{%% translate \"%s\" %%}</h2>\n  <p>%s</p>\n", strings.ReplaceAll(ident(r, adjectives, nouns), "_", "-"), title(ident(r, verbs))+" "+pick(r, nouns), paragraph(r, 2))
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, "  {%% if %s %%}\n    <a href=\"{%% url '%s' %%}\">{{ %s.name }}</a>\n  {%% endif %%}\n", pick(r, nouns), ident(r, nouns), pick(r, nouns))
			}
			b.WriteString("</section>\n")
		}
		b.WriteString("{% endblock %}\n")
		t.addString("mathesar/templates/"+name, b.String())
	}
}

// genConfig adds the parts of Mathesar's Django project the sample does not have. It never
// writes config/settings/local.py, which production.py imports when present.
func genConfig(t *tree) {
	r := rng("config")
	t.addString("config/settings/common_settings.py", commonSettings)
	t.addString("config/settings/development.py", "from config.settings.common_settings import *  # noqa: F401,F403\n\nDEBUG = True\nALLOWED_HOSTS = [\"*\"]\n")
	t.addString("config/settings/openapi.py", "def custom_preprocessing_hook(endpoints):\n    \"\"\"Keep only the documented API endpoints.\"\"\"\n    prefixes = (\"/api/db/v0/\", \"/api/ui/v0/\")\n    return [e for e in endpoints if e[0].startswith(prefixes)]\n")
	t.addString("config/asgi.py", "import os\n\nfrom django.core.asgi import get_asgi_application\n\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"config.settings.production\")\n\napplication = get_asgi_application()\n")
	t.addString("config/urls.py", "from django.contrib import admin\nfrom django.urls import include, path\n\nurlpatterns = [\n    path(\"admin/\", admin.site.urls),\n    path(\"\", include(\"mathesar.urls\")),\n]\n")
	t.addString("config/context_processors.py", pyModule(r, kindUtil, 1500))
	t.addString("config/database_config.py", pyModule(r, kindUtil, 3000))
}

const commonSettings = `"""
Django settings shared by every Mathesar deployment.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_property_filter",
    "drf_spectacular",
    "modernrpc",
    "mathesar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "config.context_processors.frontend_settings",
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SECRET_KEY = os.environ.get("SECRET_KEY")
DEBUG = os.environ.get("DEBUG", "False").lower() in ("true", "t", "1")
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", ".localhost,127.0.0.1,[::1]").split(",")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Spanish"), ("fr", "French"), ("ja", "Japanese")]
LOCALE_PATHS = ["translations"]
LANGUAGE_COOKIE_NAME = "display_language"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(BASE_DIR, "static/")
STATICFILES_DIRS = [os.path.join(BASE_DIR, "mathesar/static/mathesar/")]
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", os.path.join(BASE_DIR, ".media/"))
MEDIA_URL = "/media/"

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
AUTH_USER_MODEL = "mathesar.User"
LOGIN_URL = "/auth/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = LOGIN_URL
`

#!/usr/bin/env bash
# Installs what citygis needs: Debian packages (when root), the .venv, the front-end packages.
# Safe to run again: each step checks before it works.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"

# A fresh image may have no package lists yet: apt must know what it offers to pick PostgreSQL.
if [ "$(id -u)" = 0 ] && ! apt-cache show postgresql-common >/dev/null 2>&1; then
    apt-get update -qq
    [ -n "$PG_MAJOR_GIVEN" ] || PG_MAJOR="$(pg_major)"
fi

APT_PACKAGES=(
    "postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-postgis-3" postgresql-contrib
    gdal-bin libgdal-dev libgeos-dev libproj-dev
    redis-server chromium fonts-dejavu-core wrk
    python3-venv nodejs npm gettext
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
# nodejs may come from another repository that bundles npm: accept any working npm.
if command -v npm >/dev/null; then missing=("${missing[@]/npm}"); fi
if command -v node >/dev/null; then missing=("${missing[@]/nodejs}"); fi
read -r -a missing <<< "${missing[*]:-}"
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing Debian packages (run as root, or install them): ${missing[*]}" >&2
        exit 1
    fi
fi

# Python packages come from requirements.lock (every version and hash pinned, `make lock` upgrades
# it on purpose), so two fresh machines install the same; pyproject.toml says what we depend on.
stamp="$VENV/.citygis-$(sha1sum requirements.lock | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing $VENV from requirements.lock"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps \
        -r requirements.lock
    rm -f "$VENV"/.citygis-*
    touch "$stamp"
fi

if [ -f package.json ]; then
    npm_stamp="node_modules/.citygis-$(cat package.json package-lock.json 2>/dev/null | sha1sum | cut -c1-12)"
    if [ ! -f "$npm_stamp" ]; then
        echo "setup: installing front-end packages (npm)"
        npm ci --silent --no-audit --no-fund
        rm -f node_modules/.citygis-*
        touch "$npm_stamp"
    fi
fi

# The few front-end files we serve ourselves (no CDN): copied where collectstatic finds them.
mkdir -p var/vendor
for f in node_modules/maplibre-gl/dist/maplibre-gl.js node_modules/maplibre-gl/dist/maplibre-gl.css \
         node_modules/ol/dist/ol.js node_modules/ol/ol.css node_modules/pmtiles/dist/pmtiles.js; do
    cmp -s "$f" "var/vendor/$(basename "$f")" || cp "$f" var/vendor/
done

# The translations (locale/*/LC_MESSAGES/*.po, committed) compiled for gettext; the .mo are not.
scripts/messages.sh compile

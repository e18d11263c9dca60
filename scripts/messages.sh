#!/usr/bin/env bash
# Updates the translation catalogs (locale/{ru,kk}) from the code, then compiles them.
# Usage: scripts/messages.sh            make the .po files current, compile the .mo files
#        scripts/messages.sh compile    compile only (what set-up does)
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$ROOT"

LOCALE_DIR="${CITYGIS_LOCALE_DIR:-locale}"
if [ "${1:-}" != compile ]; then
    ignore=(--ignore 'var/*' --ignore 'node_modules/*' --ignore 'tests/*' --ignore 'bench/*'
            --ignore '.venv/*' --ignore 'staticfiles/*' --ignore '*/migrations/*')
    for domain in django djangojs; do
        "$VENV/bin/python" manage.py makemessages -d "$domain" -l ru -l kk "${ignore[@]}" \
            --no-obsolete --no-location --verbosity 0
    done
fi
for po in "$LOCALE_DIR"/*/LC_MESSAGES/*.po; do
    mo="${po%.po}.mo"
    if [ ! -f "$mo" ] || [ "$po" -nt "$mo" ]; then msgfmt --check -o "$mo" "$po"; fi
done

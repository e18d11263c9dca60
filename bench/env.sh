# Settings of a benchmark's citygis: the production ones (DEBUG off) on loopback, over plain HTTP.
# Sourced by the bench scripts, which name their own database in DATABASE_URL (so DEBUG would
# default off and the settings would ask for these); each may be overridden from outside.
export DEBUG="${DEBUG:-false}"
export SECRET_KEY="${SECRET_KEY:-bench-only-secret-key-never-used-outside-bench-0123456789}"
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-127.0.0.1,localhost}"
export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-false}"
export SECURE_COOKIES="${SECURE_COOKIES:-false}"

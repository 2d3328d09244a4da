#!/bin/sh
# Brings the database to the newest schema before the service starts, so a fresh
# volume or a new image version needs no separate step; any other command runs as given.
set -eu
if [ "${1:-}" = "signroom" ] && [ "${2:-}" = "serve" ]; then
    signroom migrate
fi
exec "$@"

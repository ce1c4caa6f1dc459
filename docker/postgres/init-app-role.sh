#!/bin/sh
# Run once by the postgres image when it initialises an empty data directory, as POSTGRES_USER
# (the owner, which runs migrations): creates the app's ordinary role (docker/postgres/app-role.sql).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_role="${APP_DB_USER:-ledgerline_app}" -v app_password="${APP_DB_PASSWORD:?}" \
    -v owner="$POSTGRES_USER" -f /ledgerline/app-role.sql

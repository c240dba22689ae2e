#!/bin/sh
# Run once by the official postgres image on a new data volume (docker-entrypoint-initdb.d).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v command_password="$JOBS_COMMAND_PASSWORD" -v query_password="$JOBS_QUERY_PASSWORD" \
  -f /docker-entrypoint-initdb.d/roles.sql.in

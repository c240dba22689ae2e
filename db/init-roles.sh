#!/bin/sh
# Run once by the official postgres image on a new data volume (docker-entrypoint-initdb.d).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v command_password="$JOBS_COMMAND_PASSWORD" -v query_password="$JOBS_QUERY_PASSWORD" \
  -v replication_password="$JOBS_REPLICATION_PASSWORD" \
  -f /docker-entrypoint-initdb.d/roles.sql.in

# The replication role may stream the WAL (the opt-in standby of the `replicas` profile)
# and nothing more: its lines go first, as pg_hba takes the first line that matches.
hba="$PGDATA/pg_hba.conf"
{
  echo "host all jobs_replication all reject"
  echo "host replication jobs_replication all scram-sha-256"
  cat "$hba"
} > "$hba.new"
mv "$hba.new" "$hba"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "SELECT pg_reload_conf()"

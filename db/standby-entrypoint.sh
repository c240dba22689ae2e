#!/bin/sh
# The `postgres-standby` service of compose's `replicas` profile: on an empty volume, a
# base backup of `postgres` with its own replication slot (-C -S) and the standby settings
# (-R); then PostgreSQL as a hot standby with feedback, as the launcher's READ_REPLICAS.
set -eu

: "${PGDATA:?}"
: "${JOBS_REPLICATION_PASSWORD:?set JOBS_REPLICATION_PASSWORD}"
primary_host="${PRIMARY_HOST:-postgres}"
primary_port="${PRIMARY_PORT:-5432}"
slot="${STANDBY_SLOT:-jobs_standby_1}"

# The password through a passfile, never a command line; -R names it in primary_conninfo,
# so it is written again at every start for the WAL receiver.
passfile=/var/lib/postgresql/standby.pgpass
umask 077
printf '%s:%s:*:jobs_replication:%s\n' \
  "$primary_host" "$primary_port" "$JOBS_REPLICATION_PASSWORD" > "$passfile"
chown postgres:postgres "$passfile"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  gosu postgres env PGPASSFILE="$passfile" pg_basebackup \
    -h "$primary_host" -p "$primary_port" -U jobs_replication -w \
    -D "$PGDATA" -X stream -C -S "$slot" -R --checkpoint=fast
fi

exec gosu postgres postgres \
  -c hot_standby=on \
  -c hot_standby_feedback=on \
  -c recovery_min_apply_delay="${STANDBY_APPLY_DELAY_MS:-0}ms"

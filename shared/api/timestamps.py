"""How the API writes a timestamp: RFC 3339, in UTC, with microseconds and a `Z`
(2026-11-30T15:19:34.123456Z). DRF writes it with strftime (the command service) and
PostgreSQL with to_char (the query service's reads); both patterns live here, and a test
holds them to the same text for the same instant."""

STRFTIME_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
POSTGRES_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'

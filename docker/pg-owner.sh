#!/usr/bin/env bash
# First start of a compose PostgreSQL: the database's owner role, before init.sql runs
# (the embedded launcher does the same in bionicflow/stack/postgres.py).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$OWNER_USER" -v owner_password="$OWNER_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
ALTER DATABASE :"db" OWNER TO :"owner";
GRANT ALL ON SCHEMA public TO :"owner";
SQL

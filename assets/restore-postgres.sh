#!/bin/sh
# Runs inside a PostgreSQL container (POSIX sh: the alpine images have no bash), with a pg_dump
# archive on stdin, for scripts/restore.ts:
#   docker exec -i C sh -c "$(cat restore-postgres.sh)" restore USER DATABASE WIPE_SQL <archive
# pg_restore --single-transaction turns the archive into SQL wrapped in one BEGIN … COMMIT; the
# wipe (WIPE_SQL, empty unless --force replaces data) goes in right after that BEGIN, so dropping
# the old contents and loading the backup commit together or not at all. psql stops at the first
# error; a pg_restore that cannot read the whole archive never writes the COMMIT, so nothing is
# committed, and each stage's failure is recorded so that none goes unnoticed.
set -u
user=$1 db=$2
WIPE=$3
export WIPE
st=$(mktemp -d)
{ pg_restore --no-owner --single-transaction -f - || echo pg_restore >>"$st/failed"; } |
  { awk '!done && $0 == "BEGIN;" { print; print ENVIRON["WIPE"]; done = 1; next } { print }
      END { if (!done) exit 3 }' || echo "awk (no BEGIN in the archive's SQL)" >>"$st/failed"; } |
  { psql -X -q -w -v ON_ERROR_STOP=1 -U "$user" -d "$db" -f - || echo psql >>"$st/failed"; }
if [ -s "$st/failed" ]; then
  echo "failed: $(tr '\n' ' ' <"$st/failed")" >&2
  rm -rf "$st"
  exit 1
fi
rm -rf "$st"

#!/bin/sh
# Runs as root in a throw-away container of the Redis image, with the stopped Redis' volumes and
# the RDB on stdin, for scripts/restore.ts:
#   docker run -i --volumes-from C ... sh -c "$(cat restore-redis.sh)" restore \
#     DIR DBFILENAME APPENDONLY APPENDDIRNAME APPENDFILENAME DATABASES ASIDE <rdb
# Puts the RDB in place, moves the previous RDB and AOF aside (into DIR/ASIDE), and has a
# temporary redis-server (no network, a socket in /tmp) load it. With AOF on, that server
# rewrites the AOF from the loaded data (CONFIG SET appendonly yes), as the real one would
# otherwise load the old AOF, or an empty one, and ignore dump.rdb. On failure the previous files
# go back. Prints the loaded keyspace.
set -eu
dir=$1 rdb=$2 aof=$3 aofdir=$4 aofname=$5 databases=$6 aside=$7
cd "$dir"
owner=$(stat -c %u:%g .)
sock=/tmp/restore.sock
mkdir "$aside"
undo() {
  rc=$?
  if [ "$rc" -ne 0 ]; then
    rm -rf "$rdb.restoring" "$rdb"
    if [ -e "$aside/$rdb" ]; then mv "$aside/$rdb" "$rdb"; fi
    if [ -e "$aside/$aofdir" ]; then rm -rf "$aofdir"; mv "$aside/$aofdir" "$aofdir"; fi
    rmdir "$aside" 2>/dev/null || true
    echo "restore failed; the previous files are back in place" >&2
    cat /tmp/redis-restore.log >&2 2>/dev/null || true
  fi
  exit "$rc"
}
trap undo EXIT
cat >"$rdb.restoring"
if [ -e "$rdb" ]; then mv "$rdb" "$aside/"; fi
if [ -e "$aofdir" ]; then mv "$aofdir" "$aside/"; fi
mv "$rdb.restoring" "$rdb"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" --dbfilename "$rdb" \
  --appendonly no --appenddirname "$aofdir" --appendfilename "$aofname" --databases "$databases" \
  --save "" --daemonize no --logfile /tmp/redis-restore.log &
pid=$!
tries=0
until [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ]; do
  kill -0 "$pid" 2>/dev/null || { echo "redis-server could not load $rdb" >&2; exit 1; }
  tries=$((tries + 1))
  [ "$tries" -lt 3000 ] || { echo "redis-server did not load $rdb within 10 minutes" >&2; exit 1; }
  sleep 0.2
done
field() { redis-cli -s "$sock" INFO persistence | tr -d '\r' | sed -n "s/^$1://p"; }
if [ "$aof" = yes ]; then
  [ "$(redis-cli -s "$sock" CONFIG SET appendonly yes)" = OK ] || { echo "CONFIG SET appendonly yes failed" >&2; exit 1; }
  tries=0
  while :; do
    if [ "$(field aof_rewrite_in_progress)" = 0 ] && [ "$(field aof_rewrite_scheduled)" = 0 ]; then
      [ "$(field aof_last_bgrewrite_status)" = ok ] || { echo "the AOF rewrite failed" >&2; exit 1; }
      if [ -f "$aofdir/$aofname.manifest" ]; then break; fi
    fi
    tries=$((tries + 1))
    [ "$tries" -lt 18000 ] || { echo "the AOF rewrite did not finish within an hour" >&2; exit 1; }
    sleep 0.2
  done
fi
redis-cli -s "$sock" INFO keyspace | tr -d '\r' | grep '^db' || true
redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$pid" || true
chown -R "$owner" "$rdb"
if [ -e "$aofdir" ]; then chown -R "$owner" "$aofdir"; fi
trap - EXIT

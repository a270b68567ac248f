#!/usr/bin/env bash
# SectorWars backup: every PostgreSQL database (pg_dump, custom format), every cluster's globals
# and Redis (BGSAVE, then dump.rdb) of one stack, into <dir>/<UTC timestamp>/ with a manifest.
# docs/backups.md describes it.
#
#   --stack NAME --dir DIR [--parallelism N] [--retention-days N] [--allow-empty]
#   [--redis-save-timeout SECONDS] [--prune-only] [--node DOCKER_HOST]...
#
# Without --node it works on the engine the docker CLI reaches (DOCKER_HOST). A swarm stack names
# each node's engine with --node ("default": that same engine): the script then finds the running
# containers on every node and reaches each one on the node that runs it.
#
# The platform's names and defaults are not written here: whoever runs this file sets them
# first. The Pulumi program puts them in a block right after the first line, from the constants
# the rest of the program uses (backupScript() in planning/backupRun.ts), and runs or installs
# that text; a run by hand from this file takes them from the environment.
#   LABEL_STACK, LABEL_ROLE, LABEL_REGION  the container labels (planning/topology.ts)
#   REDIS_CONF   redis.conf inside the Redis container (planning/redis.ts)
#   REDIS_CLI    sh that runs redis-cli inside the Redis container (assets/redis-cli.sh)
#   FORMAT       the manifest format it writes (planning/backupManifest.ts)
#   PGBACKREST_CONF, FULL_BACKUP_DAYS  a database that archives (pgbackrest.conf there) also
#                gets a base backup in its repository, a full one when its newest is that old
#   REPOSITORY_RESTIC  sh that runs restic on that repository inside such a container
#                (assets/repository-restic.sh): Redis's snapshot goes there too
#   DEFAULT_PARALLELISM, DEFAULT_RETENTION_DAYS, DEFAULT_REDIS_SAVE_TIMEOUT  the flags' defaults
set -euo pipefail
shopt -s nullglob
export LC_ALL=C
umask 077

: "${LABEL_STACK:?}" "${LABEL_ROLE:?}" "${LABEL_REGION:?}" "${REDIS_CONF:?}" "${REDIS_CLI:?}" "${FORMAT:?}"
: "${DEFAULT_PARALLELISM:?}" "${DEFAULT_RETENTION_DAYS:?}" "${DEFAULT_REDIS_SAVE_TIMEOUT:?}"
: "${PGBACKREST_CONF:?}" "${FULL_BACKUP_DAYS:?}" "${REPOSITORY_RESTIC:?}"

say() { printf 'sectorwars-backup: %s\n' "$*"; }
die() { printf 'sectorwars-backup: error: %s\n' "$*" >&2; exit 1; }
usage() { die "usage: sectorwars-backup --stack NAME --dir DIR [--parallelism N] [--retention-days N] [--allow-empty] [--redis-save-timeout S] [--prune-only] [--node DOCKER_HOST]..."; }

stack="" dir="" parallelism=$DEFAULT_PARALLELISM retention_days=$DEFAULT_RETENTION_DAYS
redis_timeout=$DEFAULT_REDIS_SAVE_TIMEOUT allow_empty=0 prune_only=0
nodes=()
while [ $# -gt 0 ]; do
  case $1 in
    --stack|--dir|--parallelism|--retention-days|--redis-save-timeout|--node)
      [ $# -ge 2 ] || usage
      case $1 in
        --node) nodes+=("$2") ;;
        --stack) stack=$2 ;;
        --dir) dir=$2 ;;
        --parallelism) parallelism=$2 ;;
        --retention-days) retention_days=$2 ;;
        --redis-save-timeout) redis_timeout=$2 ;;
      esac
      shift 2 ;;
    --allow-empty) allow_empty=1; shift ;;
    --prune-only) prune_only=1; shift ;;
    *) usage ;;
  esac
done
[[ $stack =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--stack must name the stack, got '$stack'"
[[ $dir == /* ]] || die "--dir must be an absolute path, got '$dir'"
[[ $parallelism =~ ^[1-9][0-9]*$ ]] || die "--parallelism must be a positive integer"
[[ $retention_days =~ ^[1-9][0-9]*$ ]] || die "--retention-days must be a positive integer"
[[ $redis_timeout =~ ^[1-9][0-9]*$ ]] || die "--redis-save-timeout must be a positive integer"
for node in "${nodes[@]}"; do
  [[ $node =~ ^[A-Za-z0-9][A-Za-z0-9:/@._+-]*$ ]] || die "--node must be a DOCKER_HOST value or default, got '$node'"
done
for tool in docker flock sha256sum date sync mv tar; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed on the machine that runs the backup"
done

mkdir -p -- "$dir"
dir=$(cd -- "$dir" && pwd -P)
[ "$dir" != / ] || die "--dir cannot be /"

# One run at a time per backup directory (the schedule and pulumi up may coincide).
exec 8>>"$dir/.lock"
flock -w 3600 8 || die "another backup of $dir has held its lock for an hour"

# Deletes complete backups older than the retention, never the newest complete one, and the
# leftovers of killed runs (no run is in progress: we hold the lock). Only names that match the
# backup patterns exactly, directly inside $dir, are ever deleted.
prune() {
  local now cutoff newest="" name path
  local complete=()
  now=$(date -u +%s)
  cutoff=$(date -u -d "@$((now - retention_days * 86400))" +%Y%m%dT%H%M%SZ)
  for path in "$dir"/*; do
    name=${path##*/}
    if [[ $name =~ ^[0-9]{8}T[0-9]{6}Z$ ]] && [ -d "$path" ] && [ ! -L "$path" ] && [ -f "$path/manifest.json" ]; then
      complete+=("$name")
    fi
  done
  if [ ${#complete[@]} -gt 0 ]; then newest=${complete[${#complete[@]}-1]}; fi
  for name in "${complete[@]}"; do
    if [[ $name < $cutoff ]] && [ "$name" != "$newest" ]; then
      rm -rf -- "${dir:?}/$name"
      say "pruned $dir/$name (older than $retention_days days)"
    fi
  done
  for path in "$dir"/.partial-*; do
    name=${path##*/}
    if [[ $name =~ ^\.partial-[0-9]{8}T[0-9]{6}Z-[0-9]+$ ]] && [ -d "$path" ] && [ ! -L "$path" ]; then
      rm -rf -- "${dir:?}/$name"
      say "removed $dir/$name, left by an interrupted run"
    fi
  done
}

if [ "$prune_only" = 1 ]; then
  prune
  exit 0
fi

# The docker command line for one node's engine ("default": the one DOCKER_HOST names here), into
# the array dk: one command (env execs docker), so that a job's TERM reaches the docker CLI itself.
docker_on() {
  if [ "$1" = default ]; then dk=(docker); else dk=(env "DOCKER_HOST=$1" docker); fi
}
# docker on one node's engine.
on_node() {
  local dk
  docker_on "$1"
  "${dk[@]}" "${@:2}"
}
if [ ${#nodes[@]} -eq 0 ]; then
  docker version --format '{{.Server.Version}}' >/dev/null || die "cannot reach the Docker engine${DOCKER_HOST:+ at $DOCKER_HOST}"
fi
for node in "${nodes[@]}"; do
  on_node "$node" version --format '{{.Server.Version}}' >/dev/null || die "cannot reach the Docker engine of node $node"
done

# --- Discovery: the stack's containers, by label, and the node of each -----------------------
declare -A node_of=()
# "NAME NODE" lines. On one engine, every container (a stopped database fails its backup loudly);
# across a swarm's nodes the running ones: a service's earlier tasks linger there as exited containers.
list_role() {
  local node
  if [ ${#nodes[@]} -eq 0 ]; then
    docker ps -a --filter "label=$LABEL_STACK=$stack" --filter "label=$LABEL_ROLE=$1" --format '{{.Names}} default'
    return
  fi
  for node in "${nodes[@]}"; do
    on_node "$node" ps --filter status=running --filter "label=$LABEL_STACK=$stack" --filter "label=$LABEL_ROLE=$1" \
      --format "{{.Names}} $node"
  done
}
# discover ROLE: the names into $found, sorted, and each one's node into node_of (here, in this
# shell: a $(...) would keep node_of to itself).
discover() {
  local listed name node
  listed=$(list_role "$1") || die "cannot list the $1 containers of stack $stack"
  while read -r name node; do
    if [ -n "$name" ]; then node_of[$name]=$node; fi
  done <<<"$listed"
  found=$(awk 'NF { print $1 }' <<<"$listed" | sort)
}
# The docker command line that reaches container $1, into dk.
docker_for() { docker_on "${node_of[$1]:?container $1 was not discovered}"; }
# docker on the engine that runs container $1.
at() { on_node "${node_of[$1]:?container $1 was not discovered}" "${@:2}"; }
# One variable of a container's configured environment; the rest never leaves the pipe.
container_env() {
  at "$1" inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" |
    awk -v key="$2=" 'index($0, key) == 1 && !found { print substr($0, length(key) + 1); found = 1 }'
}
label_of() { at "$1" inspect --format "{{index .Config.Labels \"$2\"}}" "$1"; }

tasks=()  # "name|container|region|database|user|role"
discover nexus-db
nexus=$found
discover region-db
regions=$found
discover redis
redis=$found
[ "$(printf '%s\n' "$nexus" | grep -c .)" -le 1 ] || die "more than one nexus-db container in stack $stack: $nexus"
[ "$(printf '%s\n' "$redis" | grep -c .)" -le 1 ] || die "more than one redis container in stack $stack: $redis"
for c in $nexus $regions; do
  role=$(label_of "$c" "$LABEL_ROLE")
  region=""
  name=nexus
  if [ "$role" = region-db ]; then
    region=$(label_of "$c" "$LABEL_REGION")
    [[ $region =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "container $c has no usable $LABEL_REGION label: '$region'"
    name=region-$region
  fi
  user=$(container_env "$c" POSTGRES_USER)
  user=${user:-postgres}
  db=$(container_env "$c" POSTGRES_DB)
  db=${db:-$user}
  tasks+=("$name|$c|$region|$db|$user|$role")
done
if [ ${#tasks[@]} -eq 0 ] && [ -z "$redis" ]; then
  if [ "$allow_empty" = 1 ]; then
    say "stack $stack has no database or Redis container yet; nothing to back up"
    exit 0
  fi
  die "no container labelled $LABEL_STACK=$stack with role nexus-db, region-db or redis; is the stack name right?"
fi
[ -n "$nexus" ] || say "warning: stack $stack has no nexus-db container"
[ -n "$redis" ] || say "warning: stack $stack has no redis container"

# --- The run's directory --------------------------------------------------------------------
while :; do
  now=$(date -u +%s)
  ts=$(date -u -d "@$now" +%Y%m%dT%H%M%SZ)
  [ -e "$dir/$ts" ] || break
  sleep 1
done
created_at=$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)
tmp="$dir/.partial-$ts-$$"

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then rm -rf -- "$tmp"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -- "$tmp" "$tmp/.meta" "$tmp/.log"
say "backing up stack $stack into $dir/$ts (${#tasks[@]} database(s)${redis:+ and Redis}, $parallelism at a time)"

# --- Jobs: each runs in the background; its stderr is its error message ----------------------
child=""
# Runs "$@" with stdout into $1 in the background, so that a TERM to the job stops it at once.
run_into() {
  local out=$1
  shift
  "$@" >"$out" &
  child=$!
  wait "$child"
}
job_traps() { trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi; exit 143' TERM; }
fail() { printf '%s\n' "$*" >&2; exit 1; }
has_magic() { [ "$(head -c ${#2} -- "$1")" = "$2" ]; }
# meta NAME FIELD...: one manifest row (without size and digest) of job NAME, fields separated
# by US (\x1f): unlike a tab, it keeps empty fields apart when read back.
meta() {
  local name=$1 IFS=$'\x1f'
  shift
  printf '%s\n' "$*" >>"$tmp/.meta/$name.tsv"
}

dump_postgres() {
  local name=$1 c=$2 region=$3 db=$4 user=$5 role=$6 version dk
  job_traps
  docker_for "$c"
  version=$("${dk[@]}" exec "$c" psql -X -w -A -t -U "$user" -d "$db" -c 'SHOW server_version') ||
    fail "cannot connect to the database"
  run_into "$tmp/$name.dump" "${dk[@]}" exec "$c" pg_dump -w -U "$user" -d "$db" --format=custom ||
    fail "pg_dump failed"
  has_magic "$tmp/$name.dump" PGDMP || fail "pg_dump wrote no custom-format archive"
  run_into "$tmp/$name.globals.sql" "${dk[@]}" exec "$c" pg_dumpall -w -U "$user" -l "$db" --globals-only --no-role-passwords ||
    fail "pg_dumpall --globals-only failed"
  meta "$name" "$name.dump" pg_dump "$role" "$c" "$region" "$db" "$user" "$version"
  meta "$name" "$name.globals.sql" pg_globals "$role" "$c" "$region" "$db" "$user" "$version"
  if "${dk[@]}" exec "$c" test -f "$PGBACKREST_CONF"; then base_backup "$c"; fi
}

# A base backup in the repository of a database that archives (backup.repository): differential,
# or full when the newest full is FULL_BACKUP_DAYS old; pgBackRest then expires what the
# retention no longer needs. The stanza is the one section of its pgbackrest.conf besides global.
base_backup() {
  local c=$1 stanza newest type=diff
  stanza=$("${dk[@]}" exec "$c" sed -n 's/^\[\(.*\)\]$/\1/p' "$PGBACKREST_CONF" | grep -vx global | head -n 1) ||
    fail "no stanza in $PGBACKREST_CONF"
  # Labels are <start>F for a full backup (…F_<start>D for a differential), in the container's UTC.
  newest=$("${dk[@]}" exec -u postgres "$c" pgbackrest --stanza="$stanza" info --output=json |
    grep -o '"label":"[0-9]*-[0-9]*F"' | sed 's/.*"\([0-9]*-[0-9]*\)F"/\1/' | sort | tail -n 1) ||
    fail "pgbackrest info failed"
  if [ -z "$newest" ] || [[ $newest < $(date -u -d "$FULL_BACKUP_DAYS days ago" +%Y%m%d-%H%M%S) ]]; then type=full; fi
  "${dk[@]}" exec -u postgres "$c" pgbackrest --stanza="$stanza" backup --type="$type" >&2 ||
    fail "pgbackrest backup --type=$type of stanza $stanza failed"
}

# redis-cli inside the Redis container, authenticated with the password from its redis.conf
# (read there into REDISCLI_AUTH, never on a command line): REDIS_CLI, set ahead of this file.
# dk: the docker command line backup_redis set for the Redis container.
rcli() { "${dk[@]}" exec "$redis" sh -c "$REDIS_CLI" sh "$REDIS_CONF" "$@" | tr -d '\r'; }
info_field() { rcli INFO persistence | sed -n "s/^$1://p"; }
# The first line of a reply that must be a number (LASTSAVE, TIME); anything else fails the job.
number() {
  local n
  n=$(rcli "$@" | head -n1) || true
  [[ $n =~ ^[0-9]+$ ]] || fail "Redis answered $* with '$n'"
  printf '%s' "$n"
}

backup_redis() {
  local version rdir rfile before reply deadline now last dk
  job_traps
  docker_for "$redis"
  version=$(rcli INFO server | sed -n 's/^redis_version://p')
  [ -n "$version" ] || fail "cannot talk to Redis (INFO server gave no version)"
  rdir=$(rcli CONFIG GET dir | sed -n 2p)
  rfile=$(rcli CONFIG GET dbfilename | sed -n 2p)
  { [ -n "$rdir" ] && [ -n "$rfile" ]; } || fail "CONFIG GET dir/dbfilename gave no answer"
  deadline=$((SECONDS + redis_timeout))
  while :; do
    [ $SECONDS -lt $deadline ] || fail "Redis did not start a BGSAVE within $redis_timeout s"
    before=$(number LASTSAVE)
    # LASTSAVE counts whole seconds: start only once a save finishing now would advance it.
    while :; do
      now=$(number TIME)
      [ "$now" -le "$before" ] || break
      sleep 0.2
    done
    reply=$(rcli BGSAVE SCHEDULE)
    case $reply in
      "Background saving started"|"Background saving scheduled") break ;;
      *"already in progress"*)
        # That save began before this run; wait for it, then take our own.
        while [ "$(info_field rdb_bgsave_in_progress)" = 1 ]; do
          [ $SECONDS -lt $deadline ] || fail "a BGSAVE already in progress did not finish within $redis_timeout s"
          sleep 0.2
        done ;;
      *) fail "BGSAVE was refused: $reply" ;;
    esac
  done
  while :; do
    last=$(number LASTSAVE)
    [ "$last" -le "$before" ] || break
    if [ "$(info_field rdb_bgsave_in_progress)" = 0 ] && [ "$(info_field aof_rewrite_in_progress)" = 0 ] &&
      [ "$(info_field rdb_last_bgsave_status)" = err ]; then
      fail "BGSAVE failed (rdb_last_bgsave_status:err; see the Redis log)"
    fi
    [ $SECONDS -lt $deadline ] || fail "BGSAVE did not finish within $redis_timeout s"
    sleep 0.2
  done
  # The save is complete and renamed into place; a later save would replace it just as atomically.
  run_into "$tmp/redis.rdb" "${dk[@]}" exec "$redis" cat -- "$rdir/$rfile" || fail "copying $rdir/$rfile failed"
  has_magic "$tmp/redis.rdb" REDIS || fail "$rdir/$rfile is not an RDB file"
  meta redis redis.rdb redis_rdb redis "$redis" "" "" "" "$version"
}

pids=()
labels=()
logs=()
start_job() {
  while [ "$(jobs -rp | wc -l)" -ge "$parallelism" ]; do sleep 0.2; done
  local label=$1 log=$tmp/.log/$2
  shift 2
  "$@" 2>"$log" &
  pids+=($!)
  labels+=("$label")
  logs+=("$log")
}
if [ -n "$redis" ]; then start_job "Redis (container $redis)" redis backup_redis; fi
for task in "${tasks[@]}"; do
  IFS='|' read -r name c region db user role <<<"$task"
  start_job "database $db (${region:+region $region, }container $c)" "$name" dump_postgres "$name" "$c" "$region" "$db" "$user" "$role"
done

failed=()
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed+=("${labels[$i]}")
    printf 'sectorwars-backup: error: backup of %s failed:\n' "${labels[$i]}" >&2
    sed 's/^/    /' -- "${logs[$i]}" >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  die "backup of stack $stack failed ($(printf '%s; ' "${failed[@]}")no backup was written)"
fi

# --- Manifest, then the rename that makes the backup visible --------------------------------
# Every value is a name, a version or a digest; quotes, backslashes and control characters,
# which none of them should contain, are dropped rather than escaped.
json() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037"\134')"; }
json_or_null() { if [ -n "$1" ]; then json "$1"; else printf null; fi; }
# The manifest of the files whose meta rows come on stdin.
manifest_of() {
  local sep="" file kind role c region db user version size sum
  printf '{\n  "format": %s,\n  "stack": %s,\n  "name": %s,\n  "createdAt": %s,\n  "files": [' \
    "$(json "$FORMAT")" "$(json "$stack")" "$(json "$ts")" "$(json "$created_at")"
  while IFS=$'\x1f' read -r file kind role c region db user version; do
    size=$(wc -c <"$tmp/$file" | tr -d ' ')
    sum=$(sha256sum -- "$tmp/$file" | cut -d' ' -f1)
    printf '%s\n    {"file": %s, "kind": %s, "role": %s, "container": %s, "regionId": %s, "database": %s, "user": %s, "serverVersion": %s, "size": %s, "sha256": %s}' \
      "$sep" "$(json "$file")" "$(json "$kind")" "$(json "$role")" "$(json "$c")" "$(json_or_null "$region")" \
      "$(json_or_null "$db")" "$(json_or_null "$user")" "$(json "$version")" "$size" "$(json "$sum")"
    sep=,
  done
  printf '\n  ]\n}\n'
}
cat "$tmp/.meta"/*.tsv | sort | manifest_of >"$tmp/manifest.json.tmp"

# When the nexus database archives, Redis's snapshot also goes into the backup repository, off the
# host: a backup directory of its own (redis.rdb and its manifest, as `npm run restore --
# --from-repository` takes it back), as a tar, by restic run in that container (it reaches the
# repository and holds the key: REPOSITORY_RESTIC), under <path>/redis, encrypted with the
# repository's key. Snapshots older than the retention's point-in-time days go, never the newest.
snapshot_redis() {
  local dk days staging=$tmp/.repository
  docker_for "$nexus"
  "${dk[@]}" exec "$nexus" test -f "$PGBACKREST_CONF" || return 0
  days=$("${dk[@]}" exec "$nexus" sed -n 's/^repo1-retention-diff=//p' "$PGBACKREST_CONF")
  [[ $days =~ ^[1-9][0-9]*$ ]] || die "no repo1-retention-diff in $PGBACKREST_CONF of $nexus"
  mkdir -p -- "$staging/$ts"
  ln -- "$tmp/redis.rdb" "$staging/$ts/redis.rdb"
  manifest_of <"$tmp/.meta/redis.tsv" >"$staging/$ts/manifest.json"
  rrestic() { "${dk[@]}" exec -i -u postgres "$nexus" sh -c "$REPOSITORY_RESTIC" sh "$PGBACKREST_CONF" "$@"; }
  # A new repository is initialised once; any other failure to read its config (a wrong key, the
  # repository away) fails at init, with both answers.
  local read_err init_err
  if ! read_err=$(rrestic cat config 2>&1 >/dev/null </dev/null); then
    init_err=$(rrestic init 2>&1 >/dev/null </dev/null) ||
      die "restic cannot read the repository's redis folder (through $nexus): $read_err; nor initialise it: $init_err"
  fi
  tar -C "$staging" -c -- "$ts" | rrestic backup --quiet --stdin --stdin-filename redis-backup.tar --host "$stack" --tag redis >&2 ||
    die "restic backup of Redis's snapshot into the repository (through $nexus) failed; no backup was written"
  rrestic forget --quiet --host "$stack" --tag redis --keep-within "${days}d" --keep-last 1 --prune </dev/null >&2 ||
    die "restic forget in the repository's redis folder (through $nexus) failed; no backup was written"
  rm -rf -- "$staging"
  say "Redis's snapshot is in the backup repository"
}
if [ -n "$redis" ] && [ -n "$nexus" ]; then snapshot_redis; fi

rm -rf -- "$tmp/.meta" "$tmp/.log"
mv -- "$tmp/manifest.json.tmp" "$tmp/manifest.json"
sync -- "$tmp"/* "$tmp"
mv -T -- "$tmp" "$dir/$ts"
tmp=""
sync -- "$dir"
for path in "$dir/$ts"/*; do say "  $(wc -c <"$path" | tr -d ' ') bytes  ${path##*/}"; done
say "backup complete: $dir/$ts"
prune

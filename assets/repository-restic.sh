#!/bin/sh
# Runs inside a database container that archives (backup.repository): restic on the `redis`
# folder of the backup repository, beside the `pgbackrest` one, with the endpoint, bucket,
# credentials, CA and encryption key read from pgbackrest.conf there, so that no secret is on a
# command line, in an environment Docker records, or in any output. Redis snapshots are kept
# there, encrypted with the key of the repository. (No apostrophes here: the backup script
# carries this text single-quoted.)
#   docker exec -i -u postgres C sh -c "$(cat repository-restic.sh)" sh CONF_PATH [restic arguments...]
set -eu
conf=$1; shift
get() { sed -n "s/^$1=//p" "$conf" | head -n 1; }
host=$(get repo1-s3-endpoint)
port=$(get repo1-storage-port)
bucket=$(get repo1-s3-bucket)
# repo1-path is /<path>/pgbackrest; <path> may be empty.
prefix=$(get repo1-path)
prefix=${prefix%/pgbackrest}
if [ -z "$host" ] || [ -z "$bucket" ]; then echo "no S3 repository in $conf" >&2; exit 1; fi
RESTIC_REPOSITORY="s3:https://$host:${port:-443}/$bucket$prefix/redis"
RESTIC_PASSWORD=$(get repo1-cipher-pass)
AWS_ACCESS_KEY_ID=$(get repo1-s3-key)
AWS_SECRET_ACCESS_KEY=$(get repo1-s3-key-secret)
AWS_DEFAULT_REGION=$(get repo1-s3-region)
export RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
# Swarm tasks have a read-only root but for /tmp: no cache, temporary files under /tmp.
TMPDIR=/tmp
export TMPDIR
ca=$(get repo1-storage-ca-file)
if [ -n "$ca" ]; then set -- --cacert "$ca" "$@"; fi
exec restic --no-cache "$@"

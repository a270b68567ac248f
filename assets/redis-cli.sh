#!/bin/sh
# Runs inside the Redis container: redis-cli, authenticated with the password from redis.conf
# in the container, read there into REDISCLI_AUTH so that it is never on a command line or
# in any output, on the port that redis.conf names.
#   docker exec C sh -c "$(cat redis-cli.sh)" sh CONF_PATH [redis-cli arguments...]
conf=$1; shift
pw=$(sed -n "s/^requirepass //p" "$conf")
if [ -n "$pw" ]; then REDISCLI_AUTH=$pw; export REDISCLI_AUTH; fi
port=$(sed -n "s/^port //p" "$conf")
exec redis-cli -p "${port:-6379}" "$@"

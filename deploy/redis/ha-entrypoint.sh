#!/bin/sh
# Start-up of a Redis data node or Sentinel in the high-availability shapes (compose profile
# `ha`, deploy/swarm/stack.yml). Runs as root in the redis image, writes the run-time config
# into a tmpfs as the redis user, then hands over to the image's own entrypoint.
#
#   ha-entrypoint.sh server     a data node: the primary at first start, or a replica
#   ha-entrypoint.sh sentinel   a Sentinel monitoring the primary
#
# Environment:
#   HA_SELF         this node's DNS name (only to recognise itself among the answers)
#   HA_SENTINELS    the Sentinels, host:port separated by spaces or commas; empty means no
#                   HA: a server then starts exactly like the single-instance stack
#   HA_PRIMARY      the node that is primary when no Sentinel knows one yet (first start)
#   HA_MASTER_NAME  the name the Sentinels monitor (REDIS_SENTINEL_NAME; authstack)
#   HA_QUORUM       Sentinels that must agree the primary is down (2 of 3)
#   HA_DOWN_AFTER   ms without an answer before a node counts as down (2000)
#   HA_RUN_DIR      where the generated config goes (a tmpfs the redis user may write;
#                   /run/redis-ha)
#
# Why a script and not static config files: a node that restarts after a failover must not
# come back as a second primary, so it asks the Sentinels who the primary is now (the same
# start-up rule the Bitnami Redis chart uses), and Sentinel needs a config file it can rewrite.
# The password arrives as a secret file and is only ever written to the 0600 tmpfs config.
#
# Sentinel is given addresses, not DNS names (no resolve-hostnames): while a container is down
# its name does not resolve, and where the host's upstream DNS is slow or unreachable each
# lookup blocks Sentinel's single thread for seconds, which throws it into TILT mode and
# stops the very failover it should run. A recreated container gets a new address; it then
# rejoins as a replica under that address (the start-up rule above) and the old entry stays
# down until `SENTINEL RESET authstack`.
set -eu

role=${1:?usage: ha-entrypoint.sh server|sentinel [redis-server options]}
shift
password_file=${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}
requirepass_conf=${REDIS_REQUIREPASS_CONF:-/run/secrets/redis_requirepass_conf}
base_conf=${REDIS_BASE_CONF:-/usr/local/etc/redis/redis.conf}
sentinels=$(printf '%s' "${HA_SENTINELS:-}" | tr ',' ' ')
master_name=${HA_MASTER_NAME:-authstack}
run_dir=${HA_RUN_DIR:-/run/redis-ha}

say() { printf 'ha-entrypoint(%s): %s\n' "${HA_SELF:-$role}" "$*" >&2; }

# The primary's address the Sentinels agree on now, or nothing when none answers (first start).
current_primary() {
  for sentinel in $sentinels; do
    answer=$(REDISCLI_AUTH=$(cat "$password_file") timeout 3 redis-cli --no-auth-warning \
      -h "${sentinel%:*}" -p "${sentinel##*:}" SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null || true)
    host=$(printf '%s\n' "$answer" | sed -n 1p)
    case "$host" in '' | *ERR* | *NOAUTH* | *Could*) continue ;; esac
    printf '%s\n' "$host"
    return 0
  done
  return 1
}

# The address of a name, waiting for it to resolve (swarm has no start order). An address is
# returned as it is.
address_of() {
  tries=0
  until address=$(getent ahostsv4 "$1" 2>/dev/null | awk 'NR == 1 { print $1 }') && [ -n "$address" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 60 ] || { say "$1 does not resolve after 60 s"; exit 1; }
    sleep 1
  done
  printf '%s\n' "$address"
}

# A double-quoted redis.conf string.
quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

if [ "$role" = server ] && [ -z "$sentinels" ]; then
  exec docker-entrypoint.sh redis-server "$base_conf" --include "$requirepass_conf" "$@"
fi

# The rest runs as the redis user, like the image's entrypoint: the data volume is handed to
# redis first (as there), and the generated files are redis' own from the start, so a restarted
# container (same tmpfs) can rewrite them with no capability beyond these two.
if [ "$(id -u)" = 0 ]; then
  [ "$role" != server ] || find /data \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$role" "$@"
fi
mkdir -p "$run_dir"
umask 0077

case "$role" in
  server)
    : "${HA_SELF:?HA_SELF: the DNS name of this node}" "${HA_PRIMARY:?HA_PRIMARY: the first primary}"
    self=$(address_of "$HA_SELF")
    primary=$(current_primary) || primary=$(address_of "$HA_PRIMARY")
    conf=$run_dir/redis.conf
    {
      echo "include $base_conf"
      # requirepass, and masterauth: every node may become a replica after a failover.
      echo "include $requirepass_conf"
      echo "masterauth $(quoted "$(cat "$password_file")")"
      if [ "$primary" != "$self" ]; then echo "replicaof $primary 6379"; fi
    } >"$conf"
    say "starting as $([ "$primary" = "$self" ] && echo primary || echo "replica of $primary") ($self)"
    exec docker-entrypoint.sh redis-server "$conf" "$@"
    ;;
  sentinel)
    : "${HA_SELF:?HA_SELF: the DNS name of this Sentinel}" "${HA_PRIMARY:?HA_PRIMARY: the first primary}"
    primary=$(current_primary) || primary=$(address_of "$HA_PRIMARY")
    password=$(quoted "$(cat "$password_file")")
    conf=$run_dir/sentinel.conf
    cat >"$conf" <<EOF
port 26379
dir $run_dir
# Addresses, never names: see the top of ha-entrypoint.sh.
# Clients (and the other Sentinels) authenticate with the Redis password.
requirepass $password
sentinel sentinel-pass $password
sentinel monitor $master_name $primary 6379 ${HA_QUORUM:-2}
sentinel auth-pass $master_name $password
sentinel down-after-milliseconds $master_name ${HA_DOWN_AFTER:-2000}
sentinel failover-timeout $master_name ${HA_FAILOVER_TIMEOUT:-10000}
sentinel parallel-syncs $master_name 1
EOF
    say "monitoring $master_name at $primary"
    cd "$run_dir"
    exec docker-entrypoint.sh redis-server "$conf" --sentinel "$@"
    ;;
  *)
    say "unknown role '$role' (server or sentinel)"
    exit 2
    ;;
esac

#!/bin/sh
# Start-up of a Redis data node or Sentinel in the high-availability shapes (compose profile
# `ha`, deploy/swarm/stack.yml). Runs in the redis image, writes the run-time config into a
# tmpfs as the redis user, then hands over to the image's own entrypoint.
#
#   ha-entrypoint.sh server     a data node: the primary at first start, or a replica
#   ha-entrypoint.sh sentinel   a Sentinel monitoring the primary
#
# Environment:
#   HA_SENTINELS    the Sentinels, host:port separated by spaces or commas; empty means no
#                   HA: a server then starts exactly like the single-instance stack
#   HA_NODES        the data nodes' DNS names (redis-a,redis-b)
#   HA_PRIMARY      the node that is primary when nothing else says otherwise (first start)
#   HA_SELF         this container's DNS name, for its log lines
#   HA_MASTER_NAME  the name the Sentinels monitor (REDIS_SENTINEL_NAME; authstack)
#   HA_QUORUM       Sentinels that must agree the primary is down (2 of 3)
#   HA_DOWN_AFTER   ms without an answer before a node counts as down (2000)
#   HA_RUN_DIR      where the generated config goes (a tmpfs the redis user may write;
#                   /run/redis-ha)
#
# Why a script and not static config files: a node that restarts after a failover must not
# come back as a second primary, so it asks who leads now before it starts (the start-up rule
# of the Bitnami Redis chart): the primary the Sentinels name, when it answers; else a data node
# that says it is a primary; else, for HA_PRIMARY only, itself. Sentinel needs a config file it
# can rewrite. The password arrives as a secret file and only goes into the 0600 tmpfs config.
#
# Sentinel is given addresses, not DNS names (no resolve-hostnames): while a container is down
# its name does not resolve, and where the host's upstream DNS is slow or unreachable each
# lookup blocks Sentinel's single thread for seconds, which throws it into TILT mode and stops
# the very failover it should run. A recreated container gets a new address and rejoins as a
# replica under it; the old entry stays listed as down until `SENTINEL RESET authstack`. When
# every data node was replaced at once, restart the Sentinels too (docs/scaling.md).
set -eu

role=${1:?usage: ha-entrypoint.sh server|sentinel [redis-server options]}
shift
password_file=${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}
requirepass_conf=${REDIS_REQUIREPASS_CONF:-/run/secrets/redis_requirepass_conf}
base_conf=${REDIS_BASE_CONF:-/usr/local/etc/redis/redis.conf}
sentinels=$(printf '%s' "${HA_SENTINELS:-}" | tr ',' ' ')
nodes=$(printf '%s' "${HA_NODES:-${HA_PRIMARY:-}}" | tr ',' ' ')
master_name=${HA_MASTER_NAME:-authstack}
run_dir=${HA_RUN_DIR:-/run/redis-ha}

say() { printf 'ha-entrypoint(%s): %s\n' "${HA_SELF:-$role}" "$*" >&2; }

# redis-cli with the password from the environment (never argv), bounded in time.
ask() { REDISCLI_AUTH=$(cat "$password_file") timeout 3 redis-cli --no-auth-warning "$@" 2>/dev/null; }

# The primary's address that a Sentinel names, if any Sentinel answers.
sentinels_primary() {
  for sentinel in $sentinels; do
    host=$(ask -h "${sentinel%:*}" -p "${sentinel##*:}" SENTINEL get-master-addr-by-name "$master_name" | sed -n 1p) || continue
    case "$host" in '' | *ERR* | *NOAUTH* | *Could*) continue ;; esac
    printf '%s\n' "$host"
    return 0
  done
  return 1
}

is_primary() { ask -h "$1" ROLE | sed -n 1p | grep -qx master; }

# The first IPv4 address of a name, or nothing (bounded: an unknown name goes to the upstream DNS).
# This container's own name is answered locally: swarm publishes a task's name only once it is
# healthy, and it cannot be healthy before it knows its role.
address_of() {
  if [ "$1" = "${HA_SELF:-}" ]; then
    hostname -I | awk '{ print $1 }'
  else
    timeout 3 getent ahostsv4 "$1" 2>/dev/null | awk 'NR == 1 { print $1 }'
  fi
}

is_self() {
  for own in $(hostname -I); do [ "$own" = "$1" ] && return 0; done
  return 1
}

# Who leads now, by the rule at the top; waits while a failover may still be running (a primary
# that was just killed still counts until the Sentinels agree it is down). Prints the address.
find_primary() {
  tries=0
  while :; do
    named=$(sentinels_primary) || named=
    if [ -n "$named" ] && { is_self "$named" || is_primary "$named"; }; then
      printf '%s\n' "$named"
      return 0
    fi
    for node in $nodes; do
      [ "$node" != "${HA_SELF:-}" ] || continue
      address=$(address_of "$node")
      if [ -n "$address" ] && ! is_self "$address" && is_primary "$address"; then
        printf '%s\n' "$address"
        return 0
      fi
    done
    tries=$((tries + 1))
    # Nothing leads: the first start, or every node restarted. HA_PRIMARY takes the lead (after
    # a grace period when the Sentinels still name a primary, which may be failing over).
    if [ "$tries" -ge "$([ -n "$named" ] && echo 20 || echo 3)" ]; then
      address=$(address_of "${HA_PRIMARY:?HA_PRIMARY: the first primary}")
      if [ -n "$address" ]; then
        printf '%s\n' "$address"
        return 0
      fi
    fi
    [ "$tries" -lt 120 ] || { say "no primary found in 120 s"; return 1; }
    sleep 1
  done
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
    primary=$(find_primary)
    conf=$run_dir/redis.conf
    {
      echo "include $base_conf"
      # requirepass, and masterauth: every node may become a replica after a failover.
      echo "include $requirepass_conf"
      echo "masterauth $(quoted "$(cat "$password_file")")"
      is_self "$primary" || echo "replicaof $primary 6379"
    } >"$conf"
    say "starting as $(is_self "$primary" && echo primary || echo "replica of $primary")"
    exec docker-entrypoint.sh redis-server "$conf" "$@"
    ;;
  sentinel)
    primary=$(find_primary)
    password=$(quoted "$(cat "$password_file")")
    conf=$run_dir/sentinel.conf
    # A Sentinel is known to the others by its id. A random one per start would leave the old id
    # listed after every restart at a new address (swarm reschedules with new addresses), and a
    # stale entry still counts when the others work out a majority: one restart, then the loss
    # of another Sentinel's node, and no failover is authorized. The same id at a new address
    # replaces its entry instead (+sentinel-address-switch).
    myid=$(printf '%s/%s' "$master_name" "${HA_SELF:?HA_SELF names this Sentinel}" | sha1sum | cut -c1-40)
    cat >"$conf" <<EOF
port 26379
dir $run_dir
sentinel myid $myid
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

#!/bin/sh
# The part of docker:dind's entrypoint (moby's hack/dind) this project relies on: make a
# privileged container fit to run dockerd, then run it with the given options.
set -eu

# Where the container is not --privileged (a machine whose capability bounding set lacks one,
# see deploy/swarm/cluster.yml), /sys, the cgroup hierarchies and /proc/sys arrive read-only:
# the engine creates cgroups and network devices and sets sysctls there, and CAP_SYS_ADMIN lets
# us remount them writable.
awk '($3 ~ /^(sysfs|cgroup2?)$/ || $2 == "/proc/sys") && $4 ~ /(^|,)ro(,|$)/ { print $2 }' /proc/self/mounts |
  while read -r dir; do
    mount -o remount,rw "$dir" 2>/dev/null || mount -o remount,bind,rw "$dir" || echo "dind: could not make $dir writable" >&2
  done

# AppArmor and friends look here; not mounted in a container by default.
if [ -d /sys/kernel/security ] && ! mountpoint -q /sys/kernel/security; then
  mount -t securityfs none /sys/kernel/security || echo "dind: could not mount securityfs" >&2
fi

# cgroup v2: the processes of this container move into a child group, so the engine may enable
# controllers for its own containers (a group with processes cannot delegate them).
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control
fi

# A stopped node keeps its data but not its processes: pidfiles of the last run would stop
# containerd and dockerd from starting again.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid

exec dockerd "$@"

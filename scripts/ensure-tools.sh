#!/usr/bin/env bash
# Makes sure the named commands exist. Missing ones are installed with apt-get when we are
# root (or have passwordless sudo) on a Debian/Ubuntu machine; otherwise it stops with the
# exact install command.
#   scripts/ensure-tools.sh redis-server nginx openssl ...
set -euo pipefail

if [[ $# -eq 0 || "$1" == "--help" || "$1" == "-h" ]]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

# command -> Debian package that provides it
package_for() {
  case "$1" in
    redis-server|redis-cli) echo redis-server ;;
    nginx) echo nginx-light ;;
    chromium) echo chromium ;;
    promtool) echo prometheus ;;
    docker|dockerd) echo docker.io ;;
    envsubst) echo gettext-base ;;
    redis-check-rdb) echo redis-tools ;;
    docker-compose) echo docker-compose ;;
    testssl|testssl.sh) echo testssl.sh ;;
    *) echo "$1" ;;
  esac
}

missing_cmds=()
packages=()
for cmd in "$@"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$cmd" ]]; then
    missing_cmds+=("$cmd")
    packages+=("$(package_for "$cmd")")
  fi
done
[[ ${#missing_cmds[@]} -eq 0 ]] && exit 0

install_cmd="apt-get install -y --no-install-recommends ${packages[*]}"
sudo=()
if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
fi

if command -v apt-get >/dev/null 2>&1 && { [[ $EUID -eq 0 ]] || [[ ${#sudo[@]} -gt 0 ]]; }; then
  echo "installing missing tools (${missing_cmds[*]}): $install_cmd" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may be running on a shared machine: wait for its lock instead of failing.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${packages[@]}" >&2
  exit 0
fi

echo "error: missing ${missing_cmds[*]}. Install with:" >&2
echo "    sudo $install_cmd" >&2
exit 1

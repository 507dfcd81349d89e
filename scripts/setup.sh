#!/usr/bin/env bash
# Installs what luna-ts needs and is missing, and skips what is there.
#   setup.sh packages   Debian packages (DPDK, compiler, network tools)
#   setup.sh npm        npm dependencies from the lock file (bun and deno included)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build, the tests, the demo and the benchmark use.
PACKAGES=(
  gcc make pkg-config libc6-dev
  libdpdk-dev dpdk dpdk-dev
  iproute2 ethtool iptables procps
  curl netcat-openbsd socat tcpdump tshark nodejs openssl iputils-ping python3 wrk
)

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
  command -v npm >/dev/null 2>&1 || echo "nodejs npm"
}

install_packages() {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  [ -z "${missing// /}" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "luna-ts needs these Debian packages: $missing" >&2
    echo "install them as root:  apt-get install -y $missing" >&2
    exit 1
  fi
  echo "installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_npm() {
  if [ -x node_modules/.bin/bun ] && [ -x node_modules/.bin/deno ] && [ -f node_modules/.stamp ] \
    && [ node_modules/.stamp -nt package-lock.json ] && [ node_modules/.stamp -nt package.json ]; then
    return 0
  fi
  echo "installing npm dependencies from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  # The bun and deno packages carry their binaries; check they run here.
  node_modules/.bin/bun --version >/dev/null
  node_modules/.bin/deno --version >/dev/null
}

case "${1:-all}" in
  packages) install_packages ;;
  npm) install_npm ;;
  all) install_packages; install_npm ;;
  *) echo "usage: $0 [packages|npm|all]" >&2; exit 2 ;;
esac

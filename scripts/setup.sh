#!/usr/bin/env bash
# Installs what Telltale needs to build, run and test on Debian 12, idempotently.
# Usage: scripts/setup.sh            system packages only
#        scripts/setup.sh --llama    also libllama (through llama-cpp-python, a few minutes the first time)
set -euo pipefail

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing packages needs root; run it as root or with sudo" >&2
    exit 1
  fi
}

packages=(
  libpcap-dev libsqlite3-dev sqlite3 pkg-config   # build
  iproute2 ethtool iputils-ping curl openssl        # live tests: namespaces, real peers
  dnsutils python3 procps                           # live tests: dig, scripted peers, ps
  tcpdump softflowd tshark                          # benchmark peers and cross-checks
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  need_root
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: the Swift 6 toolchain is not on PATH (expected /opt/swift/usr/bin); install it from swift.org first" >&2
  exit 1
fi
# The names lab's QUIC client (scripts/lab/names-lab.py).
if ! python3 -c 'import aioquic' >/dev/null 2>&1; then
  echo "setup: installing aioquic"
  python3 -m pip install --quiet aioquic || python3 -m pip install --quiet --break-system-packages aioquic
fi
echo "setup: system packages ready"

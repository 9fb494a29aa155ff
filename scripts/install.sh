#!/usr/bin/env bash
# Installs Telltale system-wide from its Debian package: builds it (scripts/package-deb.sh) and
# installs it with apt, which brings the libraries it depends on. Configuration files already in
# /etc/telltale are kept. Nothing is enabled or started. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "install: run as root" >&2; exit 1; }

bash scripts/setup.sh
bash scripts/package-deb.sh
deb=$(ls -t dist/telltale_*.deb | head -n 1)

# An earlier version of this script copied the binary and the unit by hand; the unit in /etc would
# hide the package's.
if [ -e /etc/systemd/system/telltale.service ] && ! dpkg-query -S /etc/systemd/system/telltale.service >/dev/null 2>&1 \
   && grep -q '^ExecStart=/usr/local/bin/telltale ' /etc/systemd/system/telltale.service; then
  echo "install: removing /etc/systemd/system/telltale.service and /usr/local/bin/telltale of an earlier install"
  rm -f /etc/systemd/system/telltale.service /usr/local/bin/telltale
fi

DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confdef \
  -o Dpkg::Options::=--force-confold "./$deb"
telltale rules check /etc/telltale/rules.d
echo "install: done. Members of the group telltale read the database: sudo adduser \$USER telltale"
if [ -d /run/systemd/system ]; then
  echo "install: start the daemon with: systemctl enable --now telltale"
else
  echo "install: systemd is not running here; start the daemon with: telltale daemon"
fi

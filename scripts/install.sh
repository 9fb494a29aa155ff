#!/usr/bin/env bash
# Installs Telltale system-wide: the binary, the systemd unit, the default configuration.
# An existing /etc/telltale/telltale.yaml is kept. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "install: run as root" >&2; exit 1; }

bash scripts/setup.sh
swift build -c release --product telltale 2>&1 | tail -n 1
bin="$(swift build -c release --show-bin-path)"
install -D -m 0755 "$bin/telltale" /usr/local/bin/telltale
install -D -m 0644 systemd/telltale.service /etc/systemd/system/telltale.service
install -d -m 0755 /etc/telltale
[ -e /etc/telltale/telltale.yaml ] || install -m 0644 config/telltale.yaml /etc/telltale/telltale.yaml
# The default rule pack; files already there are kept (they may be edited). Not group- or
# world-writable, or `telltale rules check` and the daemon refuse them.
install -d -m 0755 /etc/telltale/rules.d /etc/telltale/rules.d/lists
for f in rules/*.yaml; do [ -e "/etc/telltale/rules.d/$(basename "$f")" ] || install -m 0644 "$f" /etc/telltale/rules.d/; done
for f in rules/lists/*; do [ -e "/etc/telltale/rules.d/lists/$(basename "$f")" ] || install -m 0644 "$f" /etc/telltale/rules.d/lists/; done
/usr/local/bin/telltale rules check /etc/telltale/rules.d
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "install: done; start it with: systemctl enable --now telltale"
else
  echo "install: done (systemd is not running here; start the daemon with: telltale daemon)"
fi

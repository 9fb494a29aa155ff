#!/usr/bin/env bash
# Checks the Debian package as a new user's machine would see it: builds it (scripts/package-deb.sh),
# runs lintian, installs it into a clean Debian 12 root made by debootstrap (no Swift toolchain, no
# Python of ours) with dpkg -i and apt-get install -f, then inside that root: the executables' libraries
# (ldd), `telltale infer` with no arguments, `telltale daemon` with the default rules writing the
# database, `report` as a member of the `telltale` group (and the hint for a user outside it),
# `man telltale`, the bash completion loading; then dpkg --purge, and no file of the package may remain.
# Exits non-zero on the first failure. Run as root; needs debootstrap, lintian and the apt mirror.
# Usage: scripts/check-deb.sh [PACKAGE.deb]     (default: build it)
# The clean root is cached as .build-deb/debootstrap/bookworm-minbase.tgz (delete it to make it anew).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "check-deb: run as root (debootstrap, chroot, mounts)" >&2; exit 1; }
started=$SECONDS
step() { echo "check-deb: [$((SECONDS - started)) s] $*"; }
fail() { echo "check-deb: FAILED: $*" >&2; exit 1; }

deb=${1:-}
if [ -z "$deb" ]; then
  bash scripts/package-deb.sh
  deb=$(ls -t dist/telltale_*.deb | head -n 1)
fi
[ -f "$deb" ] || fail "no package at $deb"
deb=$(readlink -f "$deb")

step "installed size"
# One Swift runtime for the three programs keeps the installation under 100 MiB (KiB in the control file).
installed_kib=$(dpkg-deb -f "$deb" Installed-Size)
echo "check-deb: Installed-Size $installed_kib KiB ($((installed_kib / 1024)) MiB)"
[ "$installed_kib" -lt $((100 * 1024)) ] || fail "the package installs $((installed_kib / 1024)) MiB, 100 MiB at most"

step "lintian $deb"
lintian --fail-on error --info --display-experimental "$deb" || fail "lintian reports errors"

# The clean root: Debian 12 minbase, with man-db and bash-completion to read the pages and completions.
cache=.build-deb/debootstrap/bookworm-minbase.tgz
if [ ! -s "$cache" ]; then
  # apt's sources: whichever of these files exist (a missing one must not end the script).
  sources=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    if [ -f "$f" ]; then sources+=("$f"); fi
  done
  mirror=
  if [ ${#sources[@]} -gt 0 ]; then
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p; s/^deb \(http[^ ]*debian\) bookworm .*/\1/p' \
      "${sources[@]}" | head -n 1) || true
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  step "debootstrap bookworm from $mirror (cached afterwards in $cache)"
  fresh=.build-deb/debootstrap/fresh
  rm -rf "$fresh"; mkdir -p "$fresh"
  debootstrap --variant=minbase --include=man-db,bash-completion,procps bookworm "$fresh" "$mirror" >/dev/null \
    || fail "debootstrap (its log: $fresh/debootstrap/debootstrap.log)"
  tar -C "$fresh" -czf "$cache.tmp" . && mv "$cache.tmp" "$cache"
  rm -rf "$fresh"
fi

work=$(mktemp -d "$PWD/.build-deb/check.XXXXXX")
root="$work/root"
mounted=()
cleanup() {
  local i
  mkdir -p .build-deb/check-logs && cp "$work"/*.log "$work"/*.txt "$work"/*.ndjson "$work"/*.err .build-deb/check-logs/ 2>/dev/null || true
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$root"
tar -C "$root" -xzf "$cache"
for m in proc sys dev dev/pts; do
  case $m in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys" ;;
    dev) mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev" ;;
    dev/pts) continue ;;
  esac
  mounted+=("$root/$m")
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./tmp -o -path ./run \
    -o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./var/cache -o -path ./var/log -o -path ./root \) -prune \
    -o -print | sort)
}
snapshot >"$work/before"
in_root sh -c 'command -v swift swiftc python3' && fail "the clean root has a Swift toolchain or Python"

step "dpkg -i, then apt-get install -f for the Depends"
cp "$deb" "$root/tmp/telltale.deb"
in_root dpkg -i /tmp/telltale.deb >"$work/dpkg.log" 2>&1 || true
in_root apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive in_root apt-get install -f -y -qq --no-install-recommends >"$work/apt.log" 2>&1 \
  || { cat "$work/dpkg.log" "$work/apt.log" >&2; fail "apt-get install -f"; }
[ "$(in_root dpkg-query -W -f='${Status}' telltale)" = "install ok installed" ] || fail "telltale is not installed"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/telltale.service" ] || fail "the unit was enabled"
in_root getent group telltale >/dev/null || fail "no group telltale"
[ "$(in_root stat -c '%U:%G %a' /var/lib/telltale)" = "telltale:telltale 2750" ] \
  || fail "/var/lib/telltale is $(in_root stat -c '%U:%G %a' /var/lib/telltale), not telltale:telltale 2750"

step "libraries of the installed executables (ldd in the root)"
# One Swift runtime, in /usr/lib/telltale, for the three programs; llama.cpp for telltale-llama only.
for exe in /usr/bin/telltale /usr/bin/telltale-chat /usr/bin/telltale-llama; do
  in_root ldd "$exe" >"$work/ldd" || fail "ldd $exe"
  if grep -q 'not found' "$work/ldd"; then cat "$work/ldd" >&2; fail "$exe misses a library"; fi
  grep -q 'libswiftCore.so => /usr/lib/telltale/libswiftCore.so' "$work/ldd" \
    || { cat "$work/ldd" >&2; fail "$exe does not find the Swift runtime in /usr/lib/telltale"; }
  if [ "$exe" != /usr/bin/telltale-llama ] && grep -q 'libllama\|libggml' "$work/ldd"; then
    cat "$work/ldd" >&2; fail "$exe loads llama.cpp"
  fi
done
grep -q 'libllama.so.0 => /usr/lib/telltale/libllama.so.0' "$work/ldd" \
  || { cat "$work/ldd" >&2; fail "telltale-llama does not find libllama in /usr/lib/telltale"; }

# Live captures share the machine's interfaces with other runs: one at a time.
asked=0
lock_wait() {
  local taken
  taken=$(sed -n 's/^lock taken at //p' "$1")
  echo "check-deb: waited $((taken - asked)) s for the live-capture lock, then ran $(( $(date +%s) - taken )) s"
}
step "telltale infer (no arguments)"
status=0
asked=$(date +%s)
flock /tmp/telltale-live.lock chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 sh -c 'echo "lock taken at $(date +%s)"; cd /root && exec telltale infer' >"$work/infer.log" 2>&1 || status=$?
# 3: something on this machine left it during the run, and no process could be found for it.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then cat "$work/infer.log" >&2; fail "telltale infer exited $status"; fi
lock_wait "$work/infer.log"
grep -q '/usr/share/telltale/models/tiny.gguf' "$work/infer.log" || { cat "$work/infer.log" >&2; fail "infer did not use the bundled model"; }
grep -qi 'verdict' "$work/infer.log" || { cat "$work/infer.log" >&2; fail "infer printed no verdict"; }
echo "check-deb: infer exited $status (0 clean, 3 violation)"

step "telltale infer --chat (the chatbot client and the runtime on loopback)"
status=0
flock /tmp/telltale-live.lock chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 sh -c 'cd /root && exec telltale infer --chat --max-tokens 16' >"$work/chat.log" 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then cat "$work/chat.log" >&2; fail "telltale infer --chat exited $status"; fi
grep -q 'telltale-chat\[' "$work/chat.log" && grep -q 'model-runtime' "$work/chat.log" \
  || { cat "$work/chat.log" >&2; fail "infer --chat did not show the client's flow to the runtime with its role"; }
[ -s "$root/usr/lib/systemd/user/telltale-notify.service" ] || fail "the notify user unit is missing"
in_root sh -c 'MANWIDTH=80 man -P cat telltale-chat' >/dev/null 2>&1 || fail "man telltale-chat"
echo "check-deb: infer --chat exited $status"

step "telltale daemon with the default rules, while bash asks telltale-llama --serve on loopback"
status=0
asked=$(date +%s)
flock /tmp/telltale-live.lock chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
  bash -c 'echo "lock taken at $(date +%s)"
           telltale daemon -i lo >/root/daemon.log 2>&1 & daemon=$!
           telltale-llama --model /usr/share/telltale/models/tiny.gguf --serve --port 0 >/root/serve.log 2>&1 & server=$!
           sleep 3
           port=$(sed -n "s|^listening on http://127.0.0.1:\([0-9]*\)/v1.*|\1|p" /root/serve.log)
           [ -n "$port" ] || { cat /root/serve.log; exit 1; }
           echo "port $port"
           exec 3<>/dev/tcp/127.0.0.1/$port
           printf "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
           cat <&3; exec 3<&-
           sleep 1
           kill $server; wait $server
           kill -TERM $daemon; wait $daemon; status=$?
           cat /root/daemon.log; exit $status' >"$work/daemon.log" 2>&1 || status=$?
lock_wait "$work/daemon.log"
[ "$status" -eq 0 ] || { cat "$work/daemon.log" >&2; fail "telltale daemon exited $status"; }
port=$(sed -n 's/^port //p' "$work/daemon.log")
grep -q '"object" *: *"list"\|"data"' "$work/daemon.log" || { cat "$work/daemon.log" >&2; fail "telltale-llama did not answer"; }
grep -q '/etc/telltale/rules.d' "$work/daemon.log" || { cat "$work/daemon.log" >&2; fail "the daemon did not say it applied /etc/telltale/rules.d"; }
[ "$(in_root stat -c '%G %a' /var/lib/telltale/telltale.db)" = "telltale 640" ] \
  || fail "the database is $(in_root stat -c '%G %a' /var/lib/telltale/telltale.db), not group telltale 640"

step "report as a member of the group telltale, and as a user outside it"
in_root useradd --create-home --groups telltale auditor
in_root useradd --create-home outsider
in_root runuser -u auditor -- telltale report --by flow --format ndjson >"$work/report.ndjson" 2>"$work/report.err" \
  || { cat "$work/report.err" >&2; fail "report as a member of telltale"; }
grep "\"remote_port\":$port," "$work/report.ndjson" >"$work/flow.ndjson" || true
grep -q '"comm":"bash"' "$work/flow.ndjson" && grep -q '"peer_process":{[^}]*"exe":"/usr/bin/telltale-llama"' "$work/flow.ndjson" \
  || { cat "$work/report.ndjson" "$work/report.err" >&2; fail "the report lacks the flow from bash to telltale-llama on port $port"; }
# 3: the daemon is not running (it was stopped above), which status must say after reading the database.
status=0
in_root runuser -u auditor -- telltale status >"$work/status.txt" 2>"$work/status.err" || status=$?
[ "$status" -eq 3 ] && grep -q 'daemon: not running' "$work/status.txt" \
  || { cat "$work/status.txt" "$work/status.err" >&2; fail "status as a member (exit $status)"; }
status=0
in_root runuser -u outsider -- telltale report >/dev/null 2>"$work/outsider.err" || status=$?
[ "$status" -eq 1 ] && grep -q 'members of the `telltale` group: sudo adduser $USER telltale' "$work/outsider.err" \
  || { cat "$work/outsider.err" >&2; fail "report outside the group (exit $status) does not name the group"; }

step "man pages and completions"
in_root sh -c 'MANWIDTH=80 man -P cat telltale' >"$work/man.txt" 2>&1 || { cat "$work/man.txt" >&2; fail "man telltale"; }
grep -q 'telltale daemon\|daemon' "$work/man.txt" || fail "man telltale does not describe the commands"
in_root sh -c 'MANWIDTH=80 man -P cat telltale-llama' >/dev/null 2>&1 || fail "man telltale-llama"
for section in FILES ENVIRONMENT 'EXIT STATUS' 'SEE ALSO'; do
  grep -q "^$section" "$work/man.txt" || fail "man telltale has no $section"
done
grep -q 'telltale-report(1)' "$work/man.txt" || fail "man telltale does not point to telltale-report(1)"
in_root sh -c 'MANWIDTH=80 man -P cat telltale-report' >"$work/man-report.txt" 2>&1 || { cat "$work/man-report.txt" >&2; fail "man telltale-report"; }
# The examples as written, one a line, not re-flowed into a paragraph.
grep -q '^ *telltale report --since 1h$' "$work/man-report.txt" || { cat "$work/man-report.txt" >&2; fail "man telltale-report re-flowed its examples"; }
grep -q '^ *64 ' "$work/man-report.txt" || fail "man telltale-report does not give the usage-error exit code"
in_root sh -c 'mandb -q >/dev/null 2>&1; man -k telltale' >"$work/apropos.txt" 2>&1 || true
grep -q '^telltale-report (1) *- Print the flow report' "$work/apropos.txt" || { cat "$work/apropos.txt" >&2; fail "man -k telltale does not list telltale-report"; }
if grep -q '"' "$work/apropos.txt"; then cat "$work/apropos.txt" >&2; fail "man -k shows a stray quote"; fi
# _completion_loader returns 124 after loading (readline's "try again").
in_root bash -c 'source /usr/share/bash-completion/bash_completion; _completion_loader telltale; complete -p telltale' \
  >"$work/complete.txt" 2>&1 || { cat "$work/complete.txt" >&2; fail "the bash completion does not load"; }
grep -q 'complete .* telltale$' "$work/complete.txt" || fail "no completion registered for telltale"
for f in /usr/share/zsh/vendor-completions/_telltale /usr/share/fish/vendor_completions.d/telltale.fish; do
  in_root test -s "$f" || fail "$f is missing"
done

step "dpkg --purge: nothing of the package remains"
in_root userdel --remove auditor 2>/dev/null; in_root userdel --remove outsider 2>/dev/null
in_root dpkg --purge telltale >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge"; }
in_root getent group telltale >/dev/null && fail "the group telltale remains"
in_root getent passwd telltale >/dev/null && fail "the user telltale remains"
snapshot >"$work/after"
# New files may belong only to the packages apt installed for Depends (and their backups of /etc files).
comm -13 "$work/before" "$work/after" | sed 's|^\.||' >"$work/new"
: >"$work/left"
while read -r path; do
  in_root dpkg-query -S "$path" >/dev/null 2>&1 && continue
  # Merged /usr: a package may have registered the path under /lib, /bin or /sbin.
  case $path in /usr/lib/*|/usr/bin/*|/usr/sbin/*) in_root dpkg-query -S "${path#/usr}" >/dev/null 2>&1 && continue ;; esac
  case $path in /etc/passwd-|/etc/group-|/etc/shadow-|/etc/gshadow-|/etc/subuid*|/etc/subgid*|/etc/ld.so.cache) continue ;; esac
  echo "$path" >>"$work/left"
done <"$work/new"
grep -i telltale "$work/after" >>"$work/left" || true
if [ -s "$work/left" ]; then cat "$work/left" >&2; fail "files remain after purge"; fi

step "a person's account named telltale is refused, not taken over, and kept on purge"
in_root useradd --create-home --shell /bin/bash --uid 1500 telltale
status=0
in_root dpkg -i /tmp/telltale.deb >"$work/foreign.log" 2>&1 || status=$?
[ "$status" -ne 0 ] && grep -q 'telltale: the existing .* telltale (.id 1500) is not a system' "$work/foreign.log" \
  || { cat "$work/foreign.log" >&2; fail "postinst took over a person's account named telltale (exit $status)"; }
in_root dpkg --purge telltale >"$work/foreign-purge.log" 2>&1 || { cat "$work/foreign-purge.log" >&2; fail "purge after a refused configure"; }
in_root getent passwd telltale >/dev/null || fail "purge removed a person's account named telltale"
in_root userdel --remove telltale 2>/dev/null || true
in_root groupdel telltale 2>/dev/null || true

step "passed"

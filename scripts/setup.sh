#!/usr/bin/env bash
# Installs what Telltale needs to build, run and test on Debian 12, idempotently.
# Usage: scripts/setup.sh             system packages and libllama (through llama-cpp-python:
#                                     about 6 minutes on 2 cores the first time, seconds afterwards)
#        scripts/setup.sh --no-llama  system packages only
set -euo pipefail

with_llama=1
for arg in "$@"; do
  case "$arg" in
    --llama) with_llama=1 ;;
    --no-llama) with_llama=0 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: installing packages needs root; run it as root or with sudo" >&2
    exit 1
  fi
}

packages=(
  libpcap-dev libsqlite3-dev sqlite3 pkg-config   # build
  libbpf-dev                                        # build: the socket-event programs and their loader
  iproute2 ethtool iputils-ping curl openssl        # live tests: namespaces, real peers
  dnsutils python3 procps                           # live tests: dig, scripted peers, ps
  nftables                                          # live tests: a container routed and masqueraded
  tcpdump softflowd tshark nethogs                  # benchmark peers and cross-checks
  libnotify-bin dbus python3-dbus python3-gi        # desktop alerts (notify-send); tests: a session bus and a notification server
  tmux chromium                                     # live tests: top driven in a terminal, the HTML report rendered
  prometheus prometheus-node-exporter nfdump jq     # fleet exports: promtool and a scrape, an IPFIX collector
  clickhouse-server clickhouse-client               # fleet exports: the ClickHouse recipe
  dpkg-dev patchelf lintian debootstrap             # the Debian package: scripts/package-deb.sh, check-deb.sh
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
# The conn.log reader of the Zeek-layout tests.
if ! python3 -c 'import parsezeeklogs' >/dev/null 2>&1; then
  echo "setup: installing parsezeeklogs"
  python3 -m pip install --quiet parsezeeklogs==3.0.1 || python3 -m pip install --quiet --break-system-packages parsezeeklogs==3.0.1
fi
echo "setup: system packages ready"

[ "$with_llama" -eq 1 ] || exit 0

# libllama comes from the PyPI package llama-cpp-python, which compiles llama.cpp into site-packages
# together with its headers and a pkg-config file. gguf and numpy write the generated test model.
llama_cpp_python_version=0.3.36
gguf_version=0.19.0
numpy_version=2.4.6
gradio_version=6.31.0
python=${PYTHON:-python3}

installed_version() {
  "$python" -c "import importlib.metadata as m, sys
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass" "$1"
}

pip_install() {
  local flags=()
  # Debian's own interpreter refuses pip installs unless told (PEP 668); a pyenv or venv one does not.
  if "$python" -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) and sys.prefix == sys.base_prefix else 1)'; then
    flags+=(--break-system-packages)
  fi
  "$python" -m pip install -q "${flags[@]}" "$@"
}

if [ "$(installed_version llama_cpp_python)" != "$llama_cpp_python_version" ]; then
  echo "setup: building llama-cpp-python $llama_cpp_python_version (compiles llama.cpp: several minutes)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" pip_install "llama-cpp-python==$llama_cpp_python_version"
fi
if [ "$(installed_version gguf)" != "$gguf_version" ] || [ "$(installed_version numpy)" != "$numpy_version" ]; then
  pip_install "gguf==$gguf_version" "numpy==$numpy_version"
fi

# The real-stack lab (Tests/DaemonTests/RealStackTests.swift): llama-cpp-python's own server (its
# [server] extras: FastAPI, uvicorn, …) and a Gradio chat app. Wheels only: the llama-cpp-python
# built above satisfies the pin and is reused, so nothing compiles (about 10 s and 30 s).
if ! "$python" -c 'import importlib.util as u, sys; sys.exit(not all(map(u.find_spec, sys.argv[1:])))' \
    fastapi uvicorn sse_starlette starlette_context pydantic_settings; then
  echo "setup: installing llama-cpp-python[server] $llama_cpp_python_version's extras"
  pip_install --only-binary=:all: "llama-cpp-python[server]==$llama_cpp_python_version"
fi
if [ "$(installed_version gradio)" != "$gradio_version" ]; then
  echo "setup: installing gradio $gradio_version"
  pip_install --only-binary=:all: "gradio==$gradio_version" "numpy==$numpy_version"
fi

site=$("$python" -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).resolve().parent.parent)')
libdir="$site/lib"
if [ ! -e "$libdir/libllama.so.0" ] || [ ! -e "$site/include/llama.h" ]; then
  echo "setup: llama-cpp-python did not lay down $libdir/libllama.so.0 and $site/include/llama.h" >&2
  exit 1
fi

# The shipped llama.pc names the deleted build directory as its prefix; SwiftPM reads .pc files
# itself, so the corrected copy goes where its default search path looks.
need_root
pc=/usr/local/lib/pkgconfig/llama.pc
pc_text=$(sed -e "s|^prefix=.*|prefix=$site|" -e 's|^exec_prefix=.*|exec_prefix=${prefix}|' \
  -e 's|^libdir=.*|libdir=${prefix}/lib|' -e 's|^includedir=.*|includedir=${prefix}/include|' \
  "$libdir/pkgconfig/llama.pc")
if [ ! -f "$pc" ] || [ "$(cat "$pc")" != "$pc_text" ]; then
  mkdir -p "$(dirname "$pc")"
  printf '%s\n' "$pc_text" >"$pc"
fi

# Swift's linker writes a RUNPATH for the executable only, which the dynamic loader does not use for
# libllama's own dependencies (libggml*), so the whole directory goes into the loader's cache.
conf=/etc/ld.so.conf.d/telltale-llama.conf
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$libdir" ] || ! ldconfig -p | grep -q "libllama.so.0 .*=> $libdir/"; then
  printf '%s\n' "$libdir" >"$conf"
  ldconfig 2>&1 | grep -v "is not a symbolic link" >&2 || true
fi
echo "setup: libllama ready ($libdir)"

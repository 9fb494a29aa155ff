#!/usr/bin/env bash
# Builds the Debian package dist/telltale_VERSION_ARCH.deb on this machine (after scripts/setup.sh):
# telltale, telltale-llama and telltale-chat in release mode, the Swift runtime's shared libraries
# once for all three and llama.cpp's in /usr/lib/telltale (the executables' run path), the unit,
# the default configuration and rules as conffiles, the bundled model, man pages, completions.
# Usage: scripts/package-deb.sh [--out DIR]     (default DIR: dist)
# The build goes to .build-deb (kept between runs); the package's tree to .build-deb/package.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

out=dist
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    *) echo "package-deb: unknown option $1" >&2; exit 2 ;;
  esac
done

for tool in dpkg-deb dpkg-shlibdeps patchelf swift python3; do
  command -v "$tool" >/dev/null || { echo "package-deb: $tool is missing; run scripts/setup.sh first" >&2; exit 1; }
done

scratch=.build-deb
upstream_version=$(sed -n 's/^public let telltaleVersion = "\([0-9][0-9.]*\)"$/\1/p' Sources/Posix/Version.swift | head -n 1)
[ -n "$upstream_version" ] || { echo "package-deb: no version in Sources/Posix/Version.swift" >&2; exit 1; }
revision=$(sed -n '1s/^telltale (\(.*\)) .*/\1/p' packaging/deb/changelog)
[ "${revision%-*}" = "$upstream_version" ] || {
  echo "package-deb: packaging/deb/changelog is at $revision, the program at $upstream_version: add a changelog entry" >&2
  exit 1
}
version=$revision
arch=$(dpkg --print-architecture)

started=$(date +%s)
echo "package-deb: building telltale, telltale-llama and telltale-chat (release, one shared Swift runtime)…"
# Full RELRO (-z relro -z now), as Debian's hardened builds link. The Swift runtime stays shared: linked
# into each executable it would be installed three times (196 MiB, the chat client alone 62 MB); as
# private libraries it is installed once. Each program keeps its own executable (and hash), and the
# daemon's never lists llama.cpp among its libraries: the library that parses model files is loaded by
# telltale-llama alone.
release=(-c release --scratch-path "$scratch" -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now)
for product in telltale telltale-llama telltale-chat; do
  swift build "${release[@]}" --product "$product" 2>&1 | tail -n 1
done
bin=$(swift build "${release[@]}" --show-bin-path)
echo "package-deb: built in $(( $(date +%s) - started )) s"

# Man pages from swift-argument-parser's manual generator (the tool behind its `swift package plugin
# generate-manual`), run on the executables just built. The plugin itself first builds every product
# of the package in release mode without the static runtime, which relinks everything twice per
# package (measured: 7 min 44 s more here when nothing had changed).
swift build --scratch-path "$scratch" --product generate-manual 2>&1 | tail -n 1
generate_manual=$(swift build --scratch-path "$scratch" --show-bin-path)/generate-manual
# The pages carry the date of the changelog's last entry, so that a rebuild gives the same files.
release_date=$(date -u -d "$(sed -n 's/^ -- .*>  //p' packaging/deb/changelog | head -n 1)" +%F)
manuals="$scratch/manuals"
rm -rf "$manuals"
for exe in telltale-llama telltale-chat; do
  mkdir -p "$manuals/generated-$exe"
  "$generate_manual" "$bin/$exe" --output-directory "$manuals/generated-$exe" --section 1 --date "$release_date" \
    --authors "the Telltale authors"
  bash scripts/man-pages.sh "$manuals/generated-$exe" "$manuals/$exe"
  rm -rf "$manuals/generated-$exe"
done
# telltale: a page per subcommand (man telltale-report), with FILES, ENVIRONMENT and the real exit codes.
mkdir -p "$manuals/generated"
"$generate_manual" "$bin/telltale" --multi-page --output-directory "$manuals/generated" --section 1 --date "$release_date" \
  --authors "the Telltale authors"
bash scripts/man-pages.sh "$manuals/generated" "$manuals/telltale"
rm -rf "$manuals/generated"

model=models/tiny.gguf
[ -s "$model" ] || python3 scripts/make-tiny-model.py --output "$model"

root="$scratch/package/telltale"
rm -rf "$scratch/package"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/telltale"

# The executables, stripped; their libraries are set up below.
for exe in telltale telltale-llama telltale-chat; do
  install -m 0755 "$bin/$exe" "$root/usr/bin/$exe"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$exe"
done
for exe in telltale telltale-chat; do
  if patchelf --print-needed "$root/usr/bin/$exe" | grep 'libllama\|libggml' >/dev/null; then
    echo "package-deb: $exe links llama.cpp; only telltale-llama may" >&2
    exit 1
  fi
done

# The private libraries: every library the executables resolve from the Swift toolchain's runtime
# directory or from llama-cpp-python's (libllama and the ggml libraries it needs), under their
# sonames, stripped; they find each other through RUNPATH $ORIGIN, the executables through
# /usr/lib/telltale.
swift_libdir=$(dirname "$(command -v swift)")/../lib/swift/linux
swift_libdir=$(readlink -f "$swift_libdir")
llama_libdir=$(readlink -f "$(pkg-config --variable=libdir llama)")
mapfile -t libraries < <(ldd "$bin/telltale" "$bin/telltale-llama" "$bin/telltale-chat" \
  | awk -v swift="$swift_libdir/" -v llama="$llama_libdir/" '$2 == "=>" && (index($3, swift) == 1 || index($3, llama) == 1) { print $3 }' \
  | sort -u)
[ "${#libraries[@]}" -gt 0 ] || { echo "package-deb: the executables link no library from $swift_libdir or $llama_libdir" >&2; exit 1; }
# (grep -q would close the pipe early, which pipefail counts as ldd failing.)
ldd "$bin/telltale-llama" | grep "$llama_libdir/libllama" >/dev/null \
  || { echo "package-deb: telltale-llama links no libllama from $llama_libdir" >&2; exit 1; }
for library in "${libraries[@]}"; do
  soname=$(basename "$library")
  install -m 0644 "$(readlink -f "$library")" "$root/usr/lib/telltale/$soname"
  strip --strip-unneeded --remove-section=.comment "$root/usr/lib/telltale/$soname"
  patchelf --set-rpath '$ORIGIN' "$root/usr/lib/telltale/$soname"
done
for exe in telltale telltale-llama telltale-chat; do
  patchelf --set-rpath /usr/lib/telltale "$root/usr/bin/$exe"
done

# The unit, the configuration and the rules.
install -D -m 0644 systemd/telltale.service "$root/lib/systemd/system/telltale.service"
# The per-user companion (telltale notify): a user unit, enabled by each user who wants it.
install -D -m 0644 systemd/telltale-notify.service "$root/usr/lib/systemd/user/telltale-notify.service"
# Content inspection's drop-in (CAP_SYS_ADMIN for the TLS probes): shipped, enabled by the person.
install -D -m 0644 systemd/inspect-content.conf "$root/usr/share/telltale/systemd/inspect-content.conf"
install -D -m 0644 config/telltale.yaml "$root/etc/telltale/telltale.yaml"
install -d -m 0755 "$root/etc/telltale/rules.d/lists"
install -m 0644 rules/*.yaml "$root/etc/telltale/rules.d/"
install -m 0644 rules/lists/* "$root/etc/telltale/rules.d/lists/"
install -D -m 0644 "$model" "$root/usr/share/telltale/models/tiny.gguf"

# Man pages and completions.
install -d -m 0755 "$root/usr/share/man/man1"
# An empty line in mdoc is a paragraph break that groff warns about; .Pp says the same.
for page in "$manuals"/*/*.1; do
  sed 's/^$/.Pp/' "$page" | gzip -9n >"$root/usr/share/man/man1/$(basename "$page").gz"
done
for exe in telltale telltale-llama telltale-chat; do
  [ -e "$root/usr/share/man/man1/$exe.1.gz" ] || { echo "package-deb: no man page for $exe in $manuals" >&2; exit 1; }
  install -d -m 0755 "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d"
  # bash-completion sources the file: no #! line. The executables find their libraries in
  # /usr/lib/telltale once installed; here, in the package tree.
  LD_LIBRARY_PATH="$root/usr/lib/telltale" "$root/usr/bin/$exe" --generate-completion-script bash | sed '1{/^#!/d}' >"$root/usr/share/bash-completion/completions/$exe"
  LD_LIBRARY_PATH="$root/usr/lib/telltale" "$root/usr/bin/$exe" --generate-completion-script zsh >"$root/usr/share/zsh/vendor-completions/_$exe"
  LD_LIBRARY_PATH="$root/usr/lib/telltale" "$root/usr/bin/$exe" --generate-completion-script fish >"$root/usr/share/fish/vendor_completions.d/$exe.fish"
done
chmod 0644 "$root"/usr/share/*-completion*/completions/* "$root"/usr/share/zsh/vendor-completions/* \
  "$root"/usr/share/fish/vendor_completions.d/*

# Documentation, and lintian's overrides (each with its reason).
install -D -m 0644 packaging/deb/copyright "$root/usr/share/doc/telltale/copyright"
install -D -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/telltale"
gzip -9n <packaging/deb/changelog >"$root/usr/share/doc/telltale/changelog.Debian.gz"
chmod 0644 "$root/usr/share/doc/telltale/changelog.Debian.gz"

# Maintainer scripts, conffiles, control (Depends from the libraries the executables need).
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"
work="$scratch/package/shlibdeps"
mkdir -p "$work/debian"
printf 'Source: telltale\n\nPackage: telltale\nArchitecture: any\n' >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -l"$PWD/../telltale/usr/lib/telltale" \
  "../telltale/usr/bin/telltale" "../telltale/usr/bin/telltale-llama" "../telltale/usr/bin/telltale-chat" ../telltale/usr/lib/telltale/*.so* \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package-deb: dpkg-shlibdeps found no dependency" >&2; exit 1; }
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  -e "s/@SHLIBS@/$shlibs/" packaging/deb/control.in >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/telltale_${version}_${arch}.deb"
find "$root" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "package-deb: $deb ($(du -h "$deb" | cut -f1); Depends: adduser, $shlibs)"

#!/usr/bin/env bash
# Turns the pages swift-argument-parser's generate-manual wrote (--multi-page) into the installed ones:
# one page per subcommand under the name man looks up (telltale-report.1), examples kept as written,
# the real exit codes, and for telltale(1) FILES and ENVIRONMENT.
#   scripts/man-pages.sh GENERATED_DIR OUTPUT_DIR
set -euo pipefail
in=$1 out=$2
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for page in "$in"/*.1; do
  base=$(basename "$page" .1)
  # The help subcommand's page says nothing the main page does not.
  case $base in *.help) continue ;; esac
  name=${base//./-}
  # awk: dotted names become the dashed ones man finds; an indented block (the examples) is kept as
  # written; the generic exit status gives way to the real codes; telltale(1) gains FILES and
  # ENVIRONMENT before them.
  # The exit codes are telltale's: its own pages get them; telltale-llama and telltale-chat keep theirs.
  ours=0
  case $base in telltale|telltale.*) ours=1 ;; esac
  awk -v exit_status="$here/packaging/man/exit-status.mdoc" -v extra="$here/packaging/man/telltale-extra.mdoc" \
      -v main="$([ "$name" = telltale ] && echo 1 || echo 0)" -v ours="$ours" '
    function flush_block() { if (inblock) { print ".Ed"; inblock = 0 } }
    /^\.Dt / { gsub(/\./, "-", $2); sub(/^-Dt/, ".Dt", $0); $1 = ".Dt"; print; next }
    /^\.Xr telltale\./ { gsub(/\./, "-", $2); $1 = ".Xr"; if ($2 != "telltale-help") print; next }
    # NAME: the dashed name, which whatis and man -k read (a quoted name with spaces they cannot);
    # elsewhere the command as typed, "telltale rules learn".
    /^\.Nm "/ && !named {
      spoken = $0; sub(/^\.Nm "/, "", spoken); sub(/"$/, "", spoken)
      first = spoken; sub(/ .*/, "", first); rest = spoken; sub(/^[^ ]* ?/, "", rest)
      dashed = spoken; gsub(/ /, "-", dashed)
      print ".Nm " dashed; named = 1; next
    }
    /^\.Nm$/ && rest != "" { print ".Nm " first " Cm " rest; next }
    /^\.Nd "/ { sub(/^\.Nd "/, ".Nd "); sub(/"$/, ""); print; next }
    /^\.Sh "SEE ALSO"/ && main == 1 { print; print ".Xr telltale-llama 1 ,"; print ".Xr telltale-chat 1 ,"; next }
    /^  / {
      if (!inblock) { print ".Bd -literal -offset indent"; inblock = 1 }
      sub(/^  /, ""); print; next
    }
    /^\.Sh "EXIT STATUS"/ && ours == 1 {
      flush_block()
      if (main == 1) { while ((getline line < extra) > 0) print line }
      while ((getline line < exit_status) > 0) print line
      skip = 1; next
    }
    skip && /^\.Sh / { skip = 0 }
    skip { next }
    { flush_block(); print }
    END { flush_block() }
  ' "$page" >"$out/$name.1"
done

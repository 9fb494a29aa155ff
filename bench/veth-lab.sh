# Sourced by the benchmarks that load the daemon through a veth pair: the namespace "$ns" behind
# "$host_if" ($host_ip) and "$ns_if" ($ns_ip), IPv6 off, and a made-up neighbour "$sink_ip"/"$sink_mac"
# in the namespace that swallows what is sent to it unanswered.

veth_lab_remove() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
}

# Ends what a benchmark leaves behind: the daemon "$daemon_pid" (when one runs), the lab, and "$dir".
# A script with more to stop calls it last from its own cleanup.
veth_lab_cleanup() {
  if [ -n "${daemon_pid:-}" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  veth_lab_remove
  rm -rf "$dir"
}

veth_lab_make() {
  veth_lab_remove
  ip netns add "$ns"
  ip link add "$host_if" type veth peer name "$ns_if" netns "$ns"
  sysctl -qw "net.ipv6.conf.$host_if.disable_ipv6=1"
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ns_if.disable_ipv6=1"
  ip addr add "$host_ip/24" dev "$host_if"
  ip link set "$host_if" up
  ip -n "$ns" addr add "$ns_ip/24" dev "$ns_if"
  ip -n "$ns" link set "$ns_if" up
  ip -n "$ns" link set lo up
  ip -n "$ns" neigh replace "$sink_ip" lladdr "$sink_mac" dev "$ns_if" nud permanent
}

# Compiles the load program bench/udp-load.c to "$1/udp-load" (run from the repository's root) with
# any C compiler: the system's cc, or the clang that comes with the Swift toolchain.
veth_lab_build_load() {
  local compiler
  compiler="$(command -v cc || command -v clang || true)"
  [ -n "$compiler" ] || { echo "$(basename "$0" .sh): needs a C compiler (cc or the Swift toolchain's clang)" >&2; exit 1; }
  "$compiler" -O2 -Wall -o "$1/udp-load" bench/udp-load.c
}

# Starts "$telltale" daemon with configuration $1 on interface $2, writing "$dir/$3.db" and its log to
# "$dir/$3.log", as "$daemon_pid"; returns once it has written its state (or after 10 s). When the
# daemon dies first, prints its log and exits.
veth_lab_start_daemon() {  # CONFIG INTERFACE NAME
  "$telltale" daemon --config "$1" -i "$2" --db "$dir/$3.db" 2>"$dir/$3.log" &
  daemon_pid=$!
  for _ in $(seq 1 50); do
    sqlite3 "$dir/$3.db" 'SELECT 1 FROM daemon_state' 2>/dev/null | grep -q 1 && return 0
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$dir/$3.log" >&2; exit 1; }
    sleep 0.2
  done
}

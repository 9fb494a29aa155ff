# One line of `telltale report --by flow --format ndjson` to one row of telltale.flows (JSONEachRow):
# the process object flattened, times as ClickHouse DateTime text (UTC), and the machine's name.
# Usage: jq -c --unbuffered --arg host "$(hostname)" -f flatten.jq
def datetime: sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 | strftime("%Y-%m-%d %H:%M:%S");
{
  host: $host, seq, uid, start: (.start | datetime), end: (.end | datetime), duration, proto, ip_version,
  local_addr, local_port, remote_addr, remote_port, direction, scope, bytes_out, bytes_in, packets_out,
  packets_in, conn_state, community_id, hostname, name_source,
  pid: .process.pid, exe: .process.exe, sha256: .process.sha256, cmdline: .process.cmdline,
  user: .process.user, role: .process.role, unit: .process.unit, container: .process.container,
  peer_exe: .peer_process.exe, peer_role: .peer_process.role,
  attribution_source, unattributed_reason, verdict, rule
}

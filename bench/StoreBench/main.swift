// Sustained flow writes: FlowWriter committing realistic flows in daemon-sized batches, and the same
// rows written out as plain SQL for the sqlite3 command-line shell (bench/store-writes.sh runs both).
//
// Usage: store-bench DIR [FLOWS] [BATCH]
//   Writes DIR/ours.db through FlowWriter and prints `RESULT ours FLOWS SECONDS`; creates DIR/peer.db
//   with the same schema and writes DIR/peer.sql: the same rows (interned tables included) as
//   multi-row INSERTs inside one transaction, for `sqlite3 DIR/peer.db < DIR/peer.sql`.
import FlowStore
import Flows
import Foundation
import PacketParsing
import Reporting

/// Seeded, so every run writes the same rows.
extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func text(_ count: Int, alphabet: [Character]) -> String {
        String((0..<count).map { _ in alphabet[below(alphabet.count)] })
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: store-bench DIR [FLOWS] [BATCH]\n".utf8))
    exit(2)
}
let directory = arguments[1]
let flowCount = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000
let batchSize = arguments.count > 3 ? Int(arguments[3]) ?? 5_000 : 5_000

var g = SplitMix64(seed: 0x7E11_7A1E)
let base62 = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
let base64 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
let hex = Array("0123456789abcdef")
let lower = Array("abcdefghijklmnopqrstuvwxyz0123456789")

// Executables, processes and hostnames, interned by the store.
let programs = [
    "firefox-esr", "chromium", "curl", "wget", "apt", "http", "systemd-resolved", "NetworkManager", "sshd", "ssh",
    "git", "python3", "node", "code", "slack", "signal-desktop", "thunderbird", "spotify", "dropbox", "syncthing",
    "chronyd", "avahi-daemon", "cupsd", "snapd", "flatpak", "gnome-software", "packagekitd", "docker", "containerd",
    "telltale-llama", "swift-build", "pip", "cargo", "go", "rsync", "restic", "tailscaled", "wireguard", "dnsmasq",
    "postfix", "nginx", "redis-server", "postgres", "steam", "discord", "zoom", "teams", "obs", "vlc", "mpv",
]
let dirs = ["/usr/bin/", "/usr/sbin/", "/usr/lib/", "/opt/", "/usr/local/bin/", "/snap/bin/"]
struct Program { var exe: String; var sha256: String; var comm: String }
var executables: [Program] = []
for i in 0..<150 {
    let name = programs[i % programs.count]
    let path = dirs[g.below(dirs.count)] + (i < programs.count ? name : "\(name)-\(i / programs.count)")
    executables.append(Program(exe: path, sha256: g.text(64, alphabet: hex), comm: String(name.prefix(15))))
}
let users = [(0, "root"), (1000, "alice"), (1001, "bob"), (101, "systemd-resolve"), (998, "chrony"), (999, "_apt")]
let units = ["user@1000.service", "NetworkManager.service", "systemd-resolved.service", "ssh.service", "cron.service", nil]
var processes: [FlowRow.Process] = []
for _ in 0..<400 {
    let program = executables[g.below(executables.count)]
    var p = FlowRow.Process(pid: 300 + g.below(4_000_000))
    p.startTime = Int64(1_000 + g.below(100_000_000))
    p.exe = program.exe
    p.sha256 = program.sha256
    p.comm = program.comm
    p.cmdline = program.exe + " --profile=" + g.text(8, alphabet: lower) + " " + (g.chance(50) ? "https://" + g.text(12, alphabet: lower) + ".example.com/" + g.text(20, alphabet: lower) : "-q")
    let user = users[g.below(users.count)]
    p.uid = user.0
    p.user = user.1
    p.ppid = 1 + g.below(50_000)
    p.parentExe = g.chance(60) ? "/usr/lib/systemd/systemd" : "/usr/bin/bash"
    p.unit = units[g.below(units.count)]
    p.role = g.chance(10) ? "browser" : nil
    processes.append(p)
}
let domains = ["example.com", "example.net", "example.org", "cdn.example", "googleapis.test", "akamai.test", "fastly.test", "cloudfront.test", "debian.test", "github.test"]
var hostnames: [String] = []
for _ in 0..<3_000 {
    let labels = 1 + g.below(3)
    hostnames.append((0..<labels).map { _ in g.text(3 + g.below(10), alphabet: lower) }.joined(separator: ".") + "." + domains[g.below(domains.count)])
}

func ipv4(_ g: inout SplitMix64) -> String { "\(1 + g.below(223)).\(g.below(256)).\(g.below(256)).\(1 + g.below(254))" }
func ipv6(_ g: inout SplitMix64) -> String {
    "2a0\(g.below(10)):\(String(g.below(65536), radix: 16)):\(String(g.below(65536), radix: 16))::\(String(g.below(65536), radix: 16))"
}

var rows: [FlowRow] = []
rows.reserveCapacity(flowCount)
var clock: Int64 = 1_760_000_000_000_000_000
let remotePorts = [443, 443, 443, 443, 80, 53, 123, 5228, 8080, 22, 993, 3478]
for _ in 0..<flowCount {
    clock += Int64(g.below(2_000_000))
    let v6 = g.chance(25)
    let udp = g.chance(30)
    let remotePort = remotePorts[g.below(remotePorts.count)]
    let bytesOut = Int64(60 + g.below(200_000)), bytesIn = Int64(60 + g.below(2_000_000))
    var row = FlowRow(
        uid: "C" + g.text(17, alphabet: base62), start: clock, end: clock + Int64(g.below(120_000_000_000)),
        proto: udp ? "udp" : "tcp", ipProtocol: udp ? 17 : 6, ipVersion: v6 ? 6 : 4,
        localAddress: v6 ? "2001:db8:1::23" : "192.168.1.23", localPort: 32768 + g.below(28232),
        remoteAddress: v6 ? ipv6(&g) : ipv4(&g), remotePort: remotePort, direction: g.chance(95) ? .outbound : .inbound,
        scope: .internet, bytesOut: bytesOut, bytesIn: bytesIn, packetsOut: bytesOut / 700 + 1, packetsIn: bytesIn / 1200 + 1,
        connState: udp ? "SF" : ["SF", "S0", "RSTO", "S1", "SH"][g.below(5)], history: udp ? "Dd" : ["ShADadFf", "ShADadfF", "S", "ShADadR"][g.below(4)],
        communityID: "1:" + g.text(27, alphabet: base64) + "=")
    if g.chance(75) {
        row.hostname = hostnames[min(g.below(hostnames.count), g.below(hostnames.count))]  // popular names recur
        row.nameSource = ["dns", "sni", "quic-sni"][g.below(3)]
    }
    if g.chance(85) {
        row.process = processes[min(g.below(processes.count), g.below(processes.count))]
    } else {
        row.unattributedReason = ["no-socket", "ended-before-scan", "not-local"][g.below(3)]
    }
    row.verdict = g.chance(2) ? .alert : .unrated
    rows.append(row)
}

// The plain-SQL peer: the same schema (made by FlowStore itself), the same rows with the interned ids
// resolved up front, multi-row INSERTs in one transaction.
func sql(_ s: String?) -> String {
    guard let s else { return "NULL" }
    return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
}
func sql(_ n: (some BinaryInteger)?) -> String { n.map { "\($0)" } ?? "NULL" }

let peerPath = directory + "/peer.db"
do { _ = try FlowStore(path: peerPath) } catch {
    FileHandle.standardError.write(Data("store-bench: \(error)\n".utf8))
    exit(1)
}
// The same page cache as FlowWriter gives its connection (it barely matters in one transaction).
var script = "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\nPRAGMA cache_size = -16384;\nBEGIN;\n"
var executableIDs: [String: Int] = [:], processIDs: [String: Int] = [:], hostnameIDs: [String: Int] = [:]
var dimensions = ""
var flowValues: [String] = []
flowValues.reserveCapacity(flowCount)
for row in rows {
    var hostnameID: Int?
    if let name = row.hostname {
        if let id = hostnameIDs[name] { hostnameID = id } else {
            let id = hostnameIDs.count + 1
            hostnameIDs[name] = id
            hostnameID = id
            dimensions += "INSERT INTO hostnames (id, name) VALUES (\(id), \(sql(name)));\n"
        }
    }
    var processID: Int?
    if let p = row.process {
        let exeKey = (p.exe ?? "") + "\u{0}" + (p.sha256 ?? "")
        let executableID: Int
        if let id = executableIDs[exeKey] { executableID = id } else {
            executableID = executableIDs.count + 1
            executableIDs[exeKey] = executableID
            dimensions += "INSERT INTO executables (id, path, sha256) VALUES (\(executableID), \(sql(p.exe)), \(sql(p.sha256 ?? "")));\n"
        }
        let processKey = "\(p.pid)/\(p.startTime ?? 0)/\(executableID)"
        if let id = processIDs[processKey] { processID = id } else {
            let id = processIDs.count + 1
            processIDs[processKey] = id
            processID = id
            dimensions += """
                INSERT INTO processes (id, pid, start_time, executable_id, cmdline, comm, uid, user, ppid, parent_exe, unit, container, role) \
                VALUES (\(id), \(p.pid), \(sql(p.startTime)), \(executableID), \(sql(p.cmdline)), \(sql(p.comm)), \(sql(p.uid)), \
                \(sql(p.user)), \(sql(p.ppid)), \(sql(p.parentExe)), \(sql(p.unit)), \(sql(p.container)), \(sql(p.role)));\n
                """
        }
    }
    let r = row
    flowValues.append("""
        (\(sql(r.uid)), \(r.start), \(r.end), \(sql(r.proto)), \(r.ipProtocol), \(r.ipVersion), \(sql(r.localAddress)), \
        \(r.localPort), \(sql(r.remoteAddress)), \(r.remotePort), \(sql(r.direction.rawValue)), \(sql(r.scope.rawValue)), \
        \(r.bytesOut), \(r.bytesIn), \(r.packetsOut), \(r.packetsIn), \(sql(r.connState)), \(sql(r.history)), \
        \(sql(r.communityID)), \(sql(r.icmpIdentifier)), \(sql(hostnameID)), \(sql(r.nameSource)), \(sql(processID)), \
        \(sql(r.unattributedReason)), \(sql(r.verdict.rawValue)), \(sql(r.rule)), 0, NULL)
        """)
}
script += dimensions
let columns = """
    uid, start, "end", proto, ip_protocol, ip_version, local_addr, local_port, remote_addr, remote_port, direction, scope, \
    bytes_out, bytes_in, packets_out, packets_in, conn_state, history, community_id, icmp_id, hostname_id, name_source, \
    process_id, unattributed_reason, verdict, rule, open, session_id
    """
var start = 0
while start < flowValues.count {
    let end = min(start + 500, flowValues.count)
    script += "INSERT INTO flows (\(columns)) VALUES\n" + flowValues[start..<end].joined(separator: ",\n") + ";\n"
    start = end
}
script += "COMMIT;\n"
do {
    try script.write(toFile: directory + "/peer.sql", atomically: false, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("store-bench: cannot write peer.sql: \(error)\n".utf8))
    exit(1)
}

// Ours: FlowWriter, one transaction per batch, interning as the daemon does.
let store: FlowStore
do { store = try FlowStore(path: directory + "/ours.db") } catch {
    FileHandle.standardError.write(Data("store-bench: \(error)\n".utf8))
    exit(1)
}
let writer = FlowWriter(store: store)
let entries = rows.map { FlowWriter.Entry(row: $0) }
let began = DispatchTime.now().uptimeNanoseconds
var index = 0
while index < entries.count {
    let end = min(index + batchSize, entries.count)
    do { try writer.write(Array(entries[index..<end])) } catch {
        FileHandle.standardError.write(Data("store-bench: \(error)\n".utf8))
        exit(1)
    }
    index = end
}
let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
print("flows: \(flowCount) (\(hostnameIDs.count) hostnames, \(processIDs.count) processes, \(executableIDs.count) executables), batches of \(batchSize)")
print("RESULT ours \(flowCount) \(seconds)")

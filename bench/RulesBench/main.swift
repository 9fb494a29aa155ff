// Rule evaluation cost per new flow with 10,000 rules and 100,000 list entries, beside the 5 µs aim.
//
// The rules: the default pack's roles, 6,000 program rules (by exe path or sha256), 2,000 rules for a
// role, 2,000 rules for every flow (destination classes, CIDRs, ports); classes holding 100,000
// domains and networks from list files. Flows: 200,000 new flows from 2,000 processes (some with a
// role) to random destinations, a tenth of them in a list. "warm" reuses the processes (the engine's
// per-process cache); "cold" gives every flow a process never seen before (role matching included).
import Flows
import Foundation
import PacketParsing
import Monitor
import Policy

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

let arguments = CommandLine.arguments
let packDirectory = arguments.count > 1 ? arguments[1] : "rules"
let directory = NSTemporaryDirectory() + "tt-rules-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
for name in try FileManager.default.contentsOfDirectory(atPath: packDirectory) where name.hasSuffix(".yaml") {
    try FileManager.default.copyItem(atPath: packDirectory + "/" + name, toPath: directory + "/" + name)
}
try FileManager.default.createDirectory(atPath: directory + "/lists", withIntermediateDirectories: true)
try FileManager.default.copyItem(atPath: packDirectory + "/lists/telemetry.list", toPath: directory + "/lists/telemetry.list")

var random = SplitMix64(seed: 42)
var domains: [String] = []
var listText = ""
for i in 0..<80_000 {
    let d = "host\(i).tracker\(i % 997).example"
    domains.append(d)
    listText += (i % 3 == 0 ? "." : "") + d + "\n"
}
var networks: [String] = []
for i in 0..<20_000 {
    let n = "10.\(i / 256 % 256).\(i % 256).0/24"
    networks.append(n)
    listText += n + "\n"
}
try listText.write(toFile: directory + "/lists/big.list", atomically: true, encoding: .utf8)

var yaml = "classes:\n  - name: big\n    tag: listed\n    lists: [lists/big.list]\nrules:\n"
for i in 0..<6_000 {
    if i % 2 == 0 {
        yaml += "  - {name: p\(i), match: {exe: /opt/app\(i)/bin/app}, to: {scope: internet, port: \(1000 + i % 5000)}, action: alert}\n"
    } else {
        let hash = String(format: "%064x", i)
        yaml += "  - {name: p\(i), match: {sha256: \"\(hash)\"}, to: {cidr: 172.16.\(i % 256).0/24}, action: allow}\n"
    }
}
for i in 0..<2_000 {
    yaml += "  - {name: r\(i), role: \(i % 2 == 0 ? "model-runtime" : "chatbot-ui"), to: {domain: \"svc\(i).example\"}, action: alert}\n"
}
for i in 0..<1_999 {
    if i % 2 == 0 {
        yaml += "  - {name: e\(i), to: {cidr: 100.\(64 + i % 64).\(i % 256).0/24, port: 443}, action: alert}\n"
    } else {
        yaml += "  - {name: e\(i), to: {domain: \"*.zone\(i).example\", proto: tcp}, action: alert}\n"
    }
}
yaml += "  - {name: listed, to: {class: big}, action: alert, severity: low}\n"
FileManager.default.createFile(atPath: directory + "/30-bench.yaml", contents: Data(yaml.utf8), attributes: [.posixPermissions: 0o644])

let loadStart = DispatchTime.now().uptimeNanoseconds
let engine = try RuleEngine(directory: directory)
let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9

@MainActor func process(_ i: Int) -> ProcessFacts {
    switch i % 4 {
    case 0: ProcessFacts(pid: Int32(i), startTime: 1, exe: "/opt/app\(i % 6000 / 2 * 2)/bin/app", cmdline: "app --serve \(i)", comm: "app")
    case 1: ProcessFacts(pid: Int32(i), startTime: 1, exe: "/usr/local/bin/llama-server", cmdline: "llama-server -m m\(i).gguf", comm: "llama-server")
    case 2: ProcessFacts(pid: Int32(i), startTime: 1, exe: "/usr/bin/python3", cmdline: "python3 -m open_webui serve --port \(i)", comm: "python3")
    default: ProcessFacts(pid: Int32(i), startTime: 1, exe: "/usr/bin/curl", sha256: String(format: "%064x", i % 6000), cmdline: "curl -s https://x/\(i)", comm: "curl")
    }
}

@MainActor func flows(count: Int, processes: Int, fresh: Bool) -> [FlowFacts] {
    (0..<count).map { i in
        let p = fresh ? process(1_000_000 + i) : process(random.below(processes))
        let r = random.below(10)
        let address: IPAddress
        var host: String?
        switch r {
        case 0:
            host = domains[random.below(domains.count)]
            address = IPAddress(v4: 0xC612_0000 | UInt32(random.below(65536)))
        case 1:
            address = IPAddress(v4: 0x0A00_0000 | UInt32(random.below(1 << 24)))
        case 2:
            address = IPAddress(v4: 0x7F00_0001)
        default:
            address = IPAddress(v4: UInt32(truncatingIfNeeded: random.next()) | 0x0100_0000)
            if r < 6 { host = "api\(random.below(100_000)).service\(random.below(50)).example.com" }
        }
        return FlowFacts(process: p, remoteAddress: address, remotePort: UInt16(random.below(65536)), ipProtocol: 6, hostname: host)
    }
}

@MainActor func measure(_ batch: [FlowFacts], rounds: Int) -> (perFlow: Double, alerts: Int) {
    var best = Double.infinity
    var alerts = 0
    for _ in 0..<rounds {
        alerts = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for f in batch where engine.evaluate(f).verdict == .alert { alerts += 1 }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start)
        best = min(best, elapsed / Double(batch.count) / 1000)
    }
    return (best, alerts)
}

let warmBatch = flows(count: 200_000, processes: 2_000, fresh: false)
_ = measure(Array(warmBatch.prefix(20_000)), rounds: 1)  // fills the per-process cache
let warm = measure(warmBatch, rounds: 3)
let coldBatch = flows(count: 20_000, processes: 0, fresh: true)
let cold = measure(coldBatch, rounds: 1)

print("rules: \(engine.ruleSet.rules.count) rules + \(engine.ruleSet.roles.count) roles, list entries: \(domains.count + networks.count), load \(String(format: "%.2f", loadSeconds)) s")
print(String(format: "telltale warm (known process):   %.2f µs/flow   aim 5 µs   ratio %.2f   (%d of %d flows alert)", warm.perFlow, warm.perFlow / 5, warm.alerts, warmBatch.count))
print(String(format: "telltale cold (new process):     %.2f µs/flow   aim 5 µs   ratio %.2f", cold.perFlow, cold.perFlow / 5))

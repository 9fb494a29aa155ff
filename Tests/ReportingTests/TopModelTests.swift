import Flows
import Reporting
import Testing

/// A row as a source hands it out: cumulative counters at `end` (seconds).
func topRow(
    _ uid: String, exe: String?, role: String? = nil, host: String? = nil, remote: String = "198.18.0.2",
    scope: AddressScope = .internet, start: Double = 0, end: Double, out: Int64, in bytesIn: Int64 = 0,
    verdict: Verdict = .allowed, reason: String? = nil
) -> FlowRow {
    var r = FlowRow(
        uid: uid, start: Int64(start * 1e9), end: Int64(end * 1e9), proto: "udp", ipProtocol: 17, ipVersion: 4,
        localAddress: "10.0.0.1", localPort: 40000, remoteAddress: remote, remotePort: 9000, direction: .outbound,
        scope: scope, bytesOut: out, bytesIn: bytesIn, packetsOut: 1, packetsIn: 0, connState: "S0", history: "D",
        communityID: "1:x")
    if let exe {
        var p = FlowRow.Process(pid: 100)
        p.exe = exe
        p.comm = String(exe.split(separator: "/").last ?? "")
        p.role = role
        r.process = p
    } else {
        r.unattributedReason = reason ?? "no-socket"
    }
    r.hostname = host
    r.verdict = verdict
    return r
}

import PacketParsing

func seconds(_ s: Double) -> Int64 { Int64(s * 1e9) }

@Suite struct TopModelTests {
    @Test func ratesFollowASteadySenderReportedEveryThreeSeconds() {
        // 50,000 bytes a second, checkpointed every 3 s as the daemon does, refreshed every second.
        var model = TopModel(started: seconds(100), window: seconds(6), lag: seconds(5))
        model.absorb([topRow("a", exe: "/usr/bin/alpha", start: 90, end: 100, out: 500_000)], now: seconds(100))
        var lastRate = 0.0
        for t in 101...130 {
            let reported = Double((t / 3) * 3)  // the latest checkpoint
            model.absorb([topRow("a", exe: "/usr/bin/alpha", start: 90, end: reported, out: Int64(500_000 + (reported - 100) * 50_000))], now: seconds(Double(t)))
            let entries = model.entries(.program, now: seconds(Double(t)))
            if t >= 112 {  // the window [t-11, t-5) holds only packets after the start
                #expect(abs(entries[0].rateOut - 50_000) < 50_000 * 0.1, "t=\(t) rate \(entries[0].rateOut)")
            }
            lastRate = entries[0].rateOut
        }
        let entry = model.entries(.program, now: seconds(130))[0]
        #expect(entry.label == "alpha")
        #expect(entry.key == "/usr/bin/alpha")
        // Totals count from the start only: the 500,000 bytes before it are the baseline; the last
        // checkpoint was at 129 s.
        #expect(entry.totalOut == 29 * 50_000)
        #expect(lastRate > 0)
    }

    @Test func flowsReportedAtStaggeredMomentsAddUpToTheirRate() {
        // 300 flows of 1,000 bytes a second each, each reported every 3 s but at its own moment.
        var model = TopModel(started: 0, window: seconds(6), lag: seconds(5))
        model.absorb([], now: 0)
        var reported = Array(repeating: 0.0, count: 300)
        for tenth in 1...400 {
            let t = Double(tenth) / 10
            var rows: [FlowRow] = []
            for i in 0..<300 where Int(t * 10) % 30 == i % 30 {
                reported[i] = t
                rows.append(topRow("f\(i)", exe: "/bin/load", start: 0, end: t, out: Int64(t * 1000)))
            }
            model.absorb(rows, now: seconds(t))
            if t >= 15, tenth % 10 == 0 {
                let rate = model.entries(.program, now: seconds(t))[0].rateOut
                #expect(abs(rate - 300_000) < 300_000 * 0.05, "t=\(t): \(rate)")
            }
        }
    }

    @Test func aQuietProgramsRateDecaysToZero() {
        var model = TopModel(started: 0, window: seconds(3), lag: seconds(2))
        model.absorb([], now: 0)
        for t in 1...5 {
            model.absorb([topRow("a", exe: "/bin/a", start: 0.5, end: Double(t), out: Int64(t) * 10_000)], now: seconds(Double(t)))
        }
        #expect(model.entries(.program, now: seconds(5))[0].rateOut > 5_000)
        #expect(model.entries(.program, now: seconds(30))[0].rateOut == 0)
        #expect(model.entries(.program, now: seconds(30))[0].totalOut == 50_000)
    }

    @Test func viewsGroupByProgramRoleAndDestinationAndFlagAlertsAndMisses() {
        var model = TopModel(started: 0)
        model.absorb([], now: 0)
        model.absorb([
            topRow("1", exe: "/usr/bin/llama-server", role: "model-runtime", host: "telemetry.example", end: 1, out: 700, verdict: .alert),
            topRow("2", exe: "/usr/bin/llama-server", role: "model-runtime", remote: "127.0.0.1", scope: .loopback, end: 1, out: 300),
            topRow("3", exe: nil, remote: "198.18.0.9", end: 1, out: 50),
            topRow("4", exe: "/usr/bin/curl", host: "telemetry.example", end: 1, out: 10),
        ], now: seconds(1))
        let programs = model.entries(.program, sort: .total, now: seconds(1))
        #expect(programs.map(\.label) == ["llama-server", "(unattributed: no-socket)", "curl"])
        #expect(programs[0].alerts == 1 && !programs[0].unattributed)
        #expect(programs[0].related == ["telemetry.example (internet)", "127.0.0.1 (loopback)"])
        #expect(programs[0].flows == 2)
        #expect(programs[1].unattributed)
        let roles = model.entries(.role, sort: .name, now: seconds(1))
        #expect(roles.map(\.label) == ["(unattributed)", "model-runtime", "other"])
        let destinations = model.entries(.destination, sort: .total, now: seconds(1))
        #expect(destinations[0].label == "telemetry.example (internet)")
        #expect(destinations[0].totalOut == 710)
        #expect(Set(destinations[0].related) == ["llama-server", "curl"])
        #expect(model.entries(.program, sort: .total, filter: "TELEMETRY", now: seconds(1)).map(\.label) == ["llama-server", "curl"])
        #expect(model.entries(.program, flaggedOnly: true, now: seconds(1)).count == 2)
        #expect(model.bytes == 1060 && model.attributedBytes == 1010)
    }

    @Test func aFlowReportedTwiceIsCountedOnceAndCountersNeverGoBack() {
        var model = TopModel(started: 0)
        model.absorb([], now: 0)
        let row = topRow("x", exe: "/bin/x", end: 2, out: 1000, in: 400)
        model.absorb([row, row], now: seconds(2))
        model.absorb([row], now: seconds(3))
        // A stale copy with smaller counters (an earlier checkpoint read late) adds nothing.
        model.absorb([topRow("x", exe: "/bin/x", end: 1, out: 500)], now: seconds(4))
        let e = model.entries(.program, now: seconds(4))[0]
        #expect(e.totalOut == 1000 && e.totalIn == 400 && e.flows == 1)
    }
}

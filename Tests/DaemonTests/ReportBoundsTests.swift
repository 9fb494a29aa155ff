import FlowStore
import Flows
import Foundation
import PacketParsing
import Posix
import Reporting
import Testing
import TestSupport

/// The report and learning commands at the edges: windows reaching the ends of time, bucket counts
/// beyond what a report draws, and the files they write (mode, header, escaping).
@Suite struct ReportBoundsTests {
    static let hour: Int64 = 3_600_000_000_000

    /// A database with a program's flows over the last `hours` hours, one an hour.
    static func database(hours: Int, exe: String = "/usr/bin/curl") throws -> (directory: String, path: String) {
        let directory = try ScratchDirectory.make("bounds")
        let path = directory + "/flows.db"
        let store = try FlowStore(path: path)
        let now = SystemClock.wallNanoseconds()
        var rows: [FlowRow] = []
        for i in 0..<hours {
            let start = now - Int64(hours - i) * hour
            var r = FlowRow(
                uid: "C\(i)", start: start, end: start + 1_000_000_000, proto: "tcp", ipProtocol: 6, ipVersion: 4,
                localAddress: "10.0.0.1", localPort: 40_000 + i, remoteAddress: "198.18.0.7", remotePort: 443, direction: .outbound,
                scope: .internet, bytesOut: 1_000, bytesIn: 100, packetsOut: 3, packetsIn: 3, connState: "SF", history: "ShADadFf",
                communityID: "1:x")
            var p = FlowRow.Process(pid: 4242)
            p.exe = exe
            p.startTime = 1
            p.comm = "curl"
            r.process = p
            r.hostname = "api.example"
            r.verdict = .allowed
            rows.append(r)
        }
        try FlowWriter(store: store).write(rows.map { FlowWriter.Entry(row: $0) })
        return (directory, path)
    }

    static func telltale(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let outcome = try TestProcess.runCombined(["timeout", "60", BuiltExecutable.telltale] + arguments)
        return (outcome.status, outcome.output)
    }

    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }

    /// Windows that reached back to the ends of time crashed the report (overflow) or allocated
    /// gigabytes of empty buckets; now they draw the time that holds flows, or say what to change.
    @Test func windowsAtTheEndsOfTimeEndInAReportOrAClearRefusal() throws {
        let (directory, db) = try Self.database(hours: 30)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let everyDay = try Self.telltale(["report", "--db", db, "--since", "106751d", "--every", "1d"])
        #expect(everyDay.status == 0 && everyDay.output.contains("/usr/bin/curl"), "\(everyDay.output)")
        let everyMinute = try Self.telltale(["report", "--db", db, "--since", "106751d", "--every", "1m"])
        #expect(everyMinute.status == 0 && everyMinute.output.contains("/usr/bin/curl"), "\(everyMinute.output)")
        let everySecond = try Self.telltale(["report", "--db", db, "--since", "106751d", "--every", "1s", "--format", "csv"])
        #expect(everySecond.status == 1 && everySecond.output.contains("buckets, more than the 10000 a report draws"), "\(everySecond.output)")
        for every in ["36500d", "53376d", "106750d", "106751d", "2562047h"] {
            let refused = try Self.telltale(["report", "--db", db, "--every", every])
            #expect(refused.status == 64 && refused.output.contains("--every: '\(every)' is outside 1s to 366d"), "\(every): \(refused.output)")
        }
        let html = directory + "/report.html"
        let page = try Self.telltale(["report", "--db", db, "--html", html, "--since", "106751d"])
        #expect(page.status == 0, "\(page.output)")
        #expect(Self.mode(html) == 0o640)
        for (flag, value) in [("--since", "0"), ("--since", "0x10"), ("--from", "2026-11-29T10:00:00+99:99")] {
            let refused = try Self.telltale(["report", "--db", db, flag, value])
            #expect(refused.status == 64, "\(flag) \(value): \(refused.output)")
        }
    }

    /// `rules learn` writes a file a person can review, 0640, keyed by path; a path carrying a tab
    /// and a newline stays one entry, and the daemon's reader takes it back whole.
    @Test func theLearnFileIsReviewableAndAPathCannotInjectAnEntry() throws {
        let (directory, db) = try Self.database(hours: 3, exe: "/tmp/x\n/usr/bin/curl\texfil.example")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/baseline.tsv"
        let learn = try Self.telltale(["rules", "learn", "--db", db, "--since", "1d", "--out", out])
        #expect(learn.status == 0, "\(learn.output)")
        #expect(Self.mode(out) == 0o640)
        let text = TestProcess.contents(out)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.first?.hasPrefix("# telltale baseline 2") == true, "\(text)")
        #expect(lines.contains { $0.hasPrefix("# key: path") }, "\(text)")
        let entries = lines.filter { !$0.hasPrefix("#") }
        #expect(entries.count == 1, "\(text)")
        let fields = entries.first?.split(separator: "\t", omittingEmptySubsequences: false) ?? []
        #expect(fields.count == 7 && fields[1] == "/tmp/x%0A/usr/bin/curl%09exfil.example" && fields[3] == "api.example" && fields[6] == "3",
                "\(text)")
        #expect(Timestamp.parse(String(fields.count == 7 ? fields[4] : "")) != nil, "\(text)")
        let byHash = try Self.telltale(["rules", "learn", "--db", db, "--since", "1d", "--out", out, "--by", "sha1"])
        #expect(byHash.status == 64 && byHash.output.contains("--by: expected path or hash"), "\(byHash.output)")
    }
}

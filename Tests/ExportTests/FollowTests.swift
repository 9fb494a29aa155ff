import FlowStore
import Flows
import Foundation
import PacketParsing
import Reporting
import Testing
import TestSupport

/// `report --follow` and `--after` against a real database that another writer fills while it runs.
@Suite struct FollowTests {
    static func row(_ uid: String, bytesOut: Int64 = 100) -> FlowRow {
        FlowRow(
            uid: uid, start: 1_796_447_060_000_000_000, end: 1_796_447_061_000_000_000, proto: "udp", ipProtocol: 17,
            ipVersion: 4, localAddress: "10.0.0.5", localPort: 40_000, remoteAddress: "198.18.0.9", remotePort: 53,
            direction: .outbound, scope: .internet, bytesOut: bytesOut, bytesIn: 80, packetsOut: 1, packetsIn: 1,
            connState: "SF", history: "Dd", communityID: "")
    }

    static func uids(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["uid"] as? String
        }
    }

    @Test func followPrintsEachFinishedFlowOnceAsItIsWrittenAndResumesAfterAUid() throws {
        let telltale = try BuiltExecutable.require("telltale")
        let dir = try ScratchDirectory.make("follow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FlowStore(path: dir + "/t.db")
        let writer = FlowWriter(store: store)
        try writer.write([
            FlowWriter.Entry(row: Self.row("C1")), FlowWriter.Entry(row: Self.row("Copen"), isOpen: true),
            FlowWriter.Entry(row: Self.row("C2")),
        ])
        let follow = try TestProcess.Background(
            [telltale, "report", "--db", dir + "/t.db", "--by", "flow", "--follow", "--after-seq", "0", "--format", "ndjson",
             "--poll-interval", "50ms"], directory: dir, name: "follow")
        defer { follow.stop() }
        func waitForLines(_ n: Int) -> Bool {
            let end = Date().addingTimeInterval(10)
            while Date() < end { if Self.uids(follow.output).count >= n { return true }; usleep(50_000) }
            return false
        }
        try #require(waitForLines(2), "\(follow.error)")
        #expect(Self.uids(follow.output) == ["C1", "C2"])
        // The open flow is checkpointed (not printed), then ends after a new flow: printed in that order.
        try writer.write([FlowWriter.Entry(row: Self.row("Copen", bytesOut: 500), isOpen: true)])
        try writer.write([FlowWriter.Entry(row: Self.row("C3"))])
        try writer.write([FlowWriter.Entry(row: Self.row("Copen", bytesOut: 900))])
        try #require(waitForLines(4), "\(follow.output)")
        usleep(300_000)
        follow.process.terminate()
        #expect(follow.waitForExit(seconds: 5))
        #expect(follow.process.terminationStatus == 0)
        #expect(Self.uids(follow.output) == ["C1", "C2", "C3", "Copen"])
        #expect(follow.output.contains("\"bytes_out\":900"))

        let resumed = try TestProcess.run([telltale, "report", "--db", dir + "/t.db", "--by", "flow", "--after", "C2", "--format", "ndjson"])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(Self.uids(resumed.output) == ["C3", "Copen"])
        let zeek = try TestProcess.run([telltale, "report", "--db", dir + "/t.db", "--by", "flow", "--after-seq", "3", "--format", "zeek"])
        #expect(zeek.output.hasPrefix("#separator \\x09\n") && zeek.output.contains("\tCopen\t"))
        #expect(zeek.output.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 1)
    }

    @Test(arguments: [
        (["--by", "flow", "--follow"], "use --format ndjson, csv, zeek or zeek-json"),
        (["--follow", "--format", "ndjson"], "add --by flow"),
        (["--format", "zeek"], "add --by flow"),
        (["--by", "flow", "--after", "not-a-uid"], "is not a flow uid"),
        (["--by", "flow", "--after", "C1", "--after-seq", "3"], "give one"),
        (["--by", "flow", "--follow", "--format", "ndjson", "--to", "1h"], "--to ends the window"),
        (["--by", "flow", "--follow", "--format", "ndjson", "--poll-interval", "1ms"], "10ms to 60s"),
    ])
    func aMisusedOptionIsAUsageErrorThatSaysWhy(_ arguments: [String], _ message: String) throws {
        let telltale = try BuiltExecutable.require("telltale")
        let outcome = try TestProcess.run([telltale, "report", "--db", "/nonexistent/t.db"] + arguments)
        #expect(outcome.status == 64, "\(outcome.status) \(outcome.error)")
        #expect(outcome.error.contains(message), "\(outcome.error)")
    }

    @Test func alertsRefuseTheZeekLayouts() throws {
        let telltale = try BuiltExecutable.require("telltale")
        let outcome = try TestProcess.run([telltale, "alerts", "--db", "/nonexistent/t.db", "--format", "zeek"])
        #expect(outcome.status == 64 && outcome.error.contains("a layout for flows"), "\(outcome.error)")
    }
}

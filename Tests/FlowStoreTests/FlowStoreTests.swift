import Foundation
import GRDB
import Testing
@testable import FlowStore
import Flows
import PacketParsing
import Reporting

/// A fresh directory for one test's database files.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "telltale-store-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func sampleRow(uid: String, start: Int64, bytesOut: Int64 = 100, host: String? = nil, pid: Int? = nil) -> FlowRow {
    var row = FlowRow(
        uid: uid, start: start, end: start + 1_000_000_000, proto: "tcp", ipProtocol: 6, ipVersion: 4,
        localAddress: "192.0.2.2", localPort: 40000, remoteAddress: "198.18.0.9", remotePort: 443,
        direction: .outbound, scope: .internet, bytesOut: bytesOut, bytesIn: 50, packetsOut: 2, packetsIn: 1,
        connState: "SF", history: "ShADadFf", communityID: "1:abc=")
    row.hostname = host
    if let pid {
        var p = FlowRow.Process(pid: pid)
        p.exe = "/usr/bin/curl"
        p.sha256 = String(repeating: "ab", count: 32)
        p.cmdline = "curl https://example.test"
        p.comm = "curl"
        p.startTime = 12345
        row.process = p
    } else {
        row.unattributedReason = "no-socket"
    }
    return row
}

@Suite struct FlowStoreTests {
    @Test func writesAndReadsBackEveryContractField() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        let writer = FlowWriter(store: store)
        let rows = [
            sampleRow(uid: "C1", start: 1_000_000_000_000, host: "api.example.test", pid: 4242),
            sampleRow(uid: "C2", start: 2_000_000_000_000),
        ]
        try writer.write(rows.map { FlowWriter.Entry(row: $0) })
        let read = try store.flows(in: TimeWindow())
        // Ended flows are numbered in the order they finished.
        #expect(read.map(\.sequence) == [1, 2])
        #expect(read.map { var r = $0; r.sequence = nil; return r } == rows)
    }

    @Test func programContentAndALaterRoleAreKept() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        let writer = FlowWriter(store: store)
        var first = sampleRow(uid: "P1", start: 1_000, pid: 77)
        first.process?.program = "chat.py"
        first.process?.programKind = "script"
        first.content = FlowRow.Content(visibility: "tls-plaintext", promptMatches: 2)
        try writer.write([FlowWriter.Entry(row: first)])
        // The same process, later a chat client by relation: its row takes the role.
        var later = sampleRow(uid: "P2", start: 2_000, pid: 77)
        later.process?.program = "chat.py"
        later.process?.programKind = "script"
        later.process?.role = "chatbot-ui"
        later.process?.roleSource = "relation"
        try writer.write([FlowWriter.Entry(row: later)])
        let read = try store.flows(in: TimeWindow())
        #expect(read.map { $0.process?.program } == ["chat.py", "chat.py"])
        #expect(read.map { $0.process?.role } == ["chatbot-ui", "chatbot-ui"])
        #expect(read.first?.process?.roleSource == "relation")
        #expect(read.first?.content == FlowRow.Content(visibility: "tls-plaintext", promptMatches: 2))
        #expect(read.last?.content == nil)
        let groups = try store.groups(by: .program, in: TimeWindow())
        #expect(groups.map(\.key) == ["chat.py"])
    }

    @Test func anUpdateReplacesCountersAndKeepsOneRow() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        let writer = FlowWriter(store: store)
        try writer.write([FlowWriter.Entry(row: sampleRow(uid: "C9", start: 5, bytesOut: 10), isOpen: true)])
        try writer.write([FlowWriter.Entry(row: sampleRow(uid: "C9", start: 5, bytesOut: 999), isOpen: false)])
        let read = try store.flows(in: TimeWindow())
        #expect(read.count == 1)
        #expect(read.first?.bytesOut == 999)
    }

    @Test func theDatabaseFileIsNotWorldReadable() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        try FlowWriter(store: store).write([FlowWriter.Entry(row: sampleRow(uid: "C1", start: 1))])
        for suffix in ["", "-wal"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/t.db" + suffix)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o640, "mode of t.db\(suffix) is \(String(mode, radix: 8))")
        }
    }

    @Test func aDatabaseOfAnotherApplicationIsRefusedAndLeftUntouched() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/other.db"
        let other = try DatabaseQueue(path: path)
        try other.write { db in
            try db.execute(sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('keep me')")
        }
        try other.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { _ = try FlowStore(path: path) }
        do {
            _ = try FlowStore(path: path)
        } catch {
            #expect(error.kind == .notOurs)
            #expect(error.description.contains("not a Telltale database"))
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(before == after, "the other application's database was changed")
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aFileThatIsNotSQLiteIsRefusedAndLeftUntouched() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/notes.txt"
        let text = Data("these are my notes, not a database\n".utf8)
        try text.write(to: URL(fileURLWithPath: path))
        do {
            _ = try FlowStore(path: path)
            Issue.record("a text file was accepted as a database")
        } catch {
            #expect(error.kind == .notOurs)
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(after == text, "the text file was changed")
    }

    @Test func aDatabaseOfTheFirstSchemaIsMigratedWithItsFlows() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/old.db"
        do {
            let pool = try DatabasePool(path: path)
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA application_id = \(Schema.applicationID)")
            }
            try Schema.migrator.migrate(pool, upTo: "v1-flows")
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO flows (uid, start, "end", proto, ip_protocol, ip_version, local_addr, local_port,
                        remote_addr, remote_port, direction, scope, bytes_out, bytes_in, packets_out, packets_in,
                        conn_state, history, community_id, verdict)
                    VALUES ('Cold', 1, 2, 'udp', 17, 4, '192.0.2.2', 5000, '198.18.0.1', 53, 'outbound',
                        'internet', 80, 120, 1, 1, 'SF', '', '1:x=', 'unrated')
                    """)
            }
            try pool.close()
        }
        let store = try FlowStore(path: path)
        #expect(try store.appliedMigrations() == ["v1-flows", "v2-sessions", "v3-alerts", "v4-kernel-events", "v5-finished-order", "v6-program-and-content"])
        let flows = try store.flows(in: TimeWindow())
        #expect(flows.map(\.uid) == ["Cold"])
        #expect(flows.first?.bytesIn == 120)
        try FlowWriter(store: store).write([FlowWriter.Entry(row: sampleRow(uid: "Cnew", start: 3), sessionID: nil)])
        #expect(try store.flowCount() == 2)
    }

    @Test func aDatabaseFromANewerTelltaleIsRefused() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/new.db"
        _ = try FlowStore(path: path)
        let pool = try DatabasePool(path: path)
        try pool.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')")
        }
        try pool.close()
        do {
            _ = try FlowStore(path: path)
            Issue.record("a newer schema was accepted")
        } catch {
            #expect(error.kind == .tooNew)
        }
    }

    @Test func retentionDeletesOldFlowsAndKeepsRecentOnes() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        let second: Int64 = 1_000_000_000
        let now = 100_000 * second
        try FlowWriter(store: store).write([
            FlowWriter.Entry(row: sampleRow(uid: "Cold", start: now - 10_000 * second, host: "old.test", pid: 1)),
            FlowWriter.Entry(row: sampleRow(uid: "Cnew", start: now - 10 * second, host: "new.test", pid: 2)),
        ])
        let deleted = try store.applyRetention(maxAge: 3600 * second, maxBytes: nil, now: now)
        #expect(deleted == 1)
        #expect(try store.flows(in: TimeWindow()).map(\.uid) == ["Cnew"])
        let hostnames = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM hostnames") }
        #expect(hostnames == ["new.test"])
    }

    @Test func retentionBySizeShrinksTheFile() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        let writer = FlowWriter(store: store)
        var entries: [FlowWriter.Entry] = []
        for i in 0..<20_000 {
            entries.append(FlowWriter.Entry(row: sampleRow(uid: "C\(i)", start: Int64(i) * 1_000_000, host: "h\(i % 500).test")))
        }
        try writer.write(entries)
        try store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let before = store.fileSize
        let limit = before / 2
        let deleted = try store.applyRetention(maxAge: nil, maxBytes: limit, now: 0)
        #expect(deleted > 0)
        #expect(store.fileSize <= limit)
        // The newest flows are the ones kept.
        let kept = try store.flows(in: TimeWindow())
        #expect(kept.last?.uid == "C19999")
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func groupsSumBytesPerProcessAndCoverageCountsAttributedBytes() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        try FlowWriter(store: store).write([
            FlowWriter.Entry(row: sampleRow(uid: "C1", start: 10, bytesOut: 300, host: "a.test", pid: 10)),
            FlowWriter.Entry(row: sampleRow(uid: "C2", start: 20, bytesOut: 700, host: "b.test", pid: 10)),
            FlowWriter.Entry(row: sampleRow(uid: "C3", start: 30, bytesOut: 1000)),
        ])
        let groups = try store.groups(by: .process, in: TimeWindow())
        let curl = try #require(groups.first { $0.key == "/usr/bin/curl" })
        #expect(curl.flows == 2)
        #expect(curl.bytesOut == 1000)
        #expect(curl.destinations == 2)
        #expect(groups.contains { $0.key == "(unattributed: no-socket)" && $0.bytesOut == 1000 })
        let coverage = try store.coverage(in: TimeWindow())
        #expect(coverage.bytes == 2000 + 150)
        #expect(coverage.attributedBytes == 1000 + 100)
        let windowed = try store.flows(in: TimeWindow(from: 1_000_000_015, to: 25))
        #expect(windowed.map(\.uid) == ["C2"])
    }

    @Test func hostnamesAndCommandLinesWithEscapesPrintHarmlessly() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        var row = sampleRow(uid: "Cx", start: 1, host: "evil\u{1b}]0;pwned\u{07}\u{1b}[31m.test", pid: 7)
        row.process?.comm = "c\u{1b}[2Jurl"
        try FlowWriter(store: store).write([FlowWriter.Entry(row: row)])
        let read = try store.flows(in: TimeWindow())
        for format in OutputFormat.allCases {
            let text = FlowRenderer(format: format, terminal: false).render(read)
            #expect(!text.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 }, "\(format) printed a control character")
        }
        let grouped = GroupRenderer(format: .table, terminal: false, groupTitle: "destination")
            .render(try store.groups(by: .destination, in: TimeWindow()))
        #expect(!grouped.unicodeScalars.contains { $0.value == 0x1b })
        #expect(grouped.contains("evil\\x1b]0;pwned\\x07"))
    }

    @Test func anObservedRunIsRecordedWithItsFlows() throws {
        let dir = try temporaryDirectory()
        let store = try FlowStore(path: dir + "/t.db")
        let id = try store.insertSession(kind: "run", command: "curl x", start: 100, end: 200, verdict: "violation", report: "{}")
        try FlowWriter(store: store).write([
            FlowWriter.Entry(row: sampleRow(uid: "Cs1", start: 150), sessionID: id),
            FlowWriter.Entry(row: sampleRow(uid: "Cs2", start: 160)),
        ])
        let sessions = try store.sessions(in: TimeWindow())
        #expect(sessions.map(\.id) == [id])
        #expect(sessions.first?.flows == 1)
        #expect(sessions.first?.verdict == "violation")
        #expect(try store.sessions(in: TimeWindow(from: 300)).isEmpty)
    }
}

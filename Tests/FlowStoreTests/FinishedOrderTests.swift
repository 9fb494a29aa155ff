import Foundation
import GRDB
import Testing
@testable import FlowStore
import Reporting

/// The finished order (`seq`) that `report --follow` and the exports resume from.
@Suite struct FinishedOrderTests {
    @Test func flowsAreNumberedOnceAsTheyEndAndOpenFlowsWait() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FlowStore(path: dir + "/t.db")
        let writer = FlowWriter(store: store)
        try writer.write([
            FlowWriter.Entry(row: sampleRow(uid: "Clong", start: 1_000), isOpen: true),
            FlowWriter.Entry(row: sampleRow(uid: "Cfirst", start: 2_000)),
        ])
        #expect(try store.lastSequence() == 1)
        #expect(try store.sequence(ofFlow: "Clong") == .some(nil))
        #expect(try store.sequence(ofFlow: "Cnone") == .none)
        // The long flow is checkpointed again (still no number), then ends after another flow.
        try writer.write([FlowWriter.Entry(row: sampleRow(uid: "Clong", start: 1_000, bytesOut: 500), isOpen: true)])
        try writer.write([FlowWriter.Entry(row: sampleRow(uid: "Csecond", start: 3_000))])
        try writer.write([FlowWriter.Entry(row: sampleRow(uid: "Clong", start: 1_000, bytesOut: 900))])
        let all = try store.finishedFlows(after: 0)
        #expect(all.map(\.uid) == ["Cfirst", "Csecond", "Clong"])
        #expect(all.map(\.sequence) == [1, 2, 3])
        #expect(all.last?.bytesOut == 900)
        // Written ended a second time (a repeat), a flow keeps its number and is not handed out again.
        try writer.write([FlowWriter.Entry(row: sampleRow(uid: "Cfirst", start: 2_000, bytesOut: 101))])
        #expect(try store.finishedFlows(after: 3).isEmpty)
        #expect(try store.finishedFlows(after: 1).map(\.uid) == ["Csecond", "Clong"])
        #expect(try store.finishedFlows(after: 0, limit: 2).map(\.uid) == ["Cfirst", "Csecond"])
    }

    @Test func aSecondWriterContinuesTheOrderAndAReaderFindsWhereATimeBegins() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FlowStore(path: dir + "/t.db")
        try FlowWriter(store: store).write([FlowWriter.Entry(row: sampleRow(uid: "Ca", start: 1_000_000_000_000))])
        // Another process (`telltale run`) writing to the same database continues the numbers.
        let other = try FlowStore(path: dir + "/t.db")
        try FlowWriter(store: other).write([FlowWriter.Entry(row: sampleRow(uid: "Cb", start: 5_000_000_000_000))])
        let reader = try FlowStore(path: dir + "/t.db", readOnly: true)
        #expect(try reader.finishedFlows(after: 0).map(\.sequence) == [1, 2])
        #expect(try reader.sequence(beforeFlowsEndingAt: 3_000_000_000_000) == 1)
        #expect(try reader.sequence(beforeFlowsEndingAt: 9_000_000_000_000) == 2)
        #expect(try reader.finishedFlows(after: 0, endingFrom: 3_000_000_000_000).map(\.uid) == ["Cb"])
    }

    @Test func anOlderDatabaseIsNumberedInTheOrderItsFlowsWereWritten() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/old.db"
        // A database of the previous schema: made now, then v5 taken out again (column, index, record).
        do {
            _ = try FlowStore(path: path)
            let queue = try DatabaseQueue(path: path)
            try queue.write { db in
                try db.execute(sql: """
                    DROP INDEX flows_seq;
                    ALTER TABLE flows DROP COLUMN seq;
                    DELETE FROM grdb_migrations WHERE identifier = 'v5-finished-order';
                    """)
                for (uid, open) in [("Cx", 0), ("Cy", 1), ("Cz", 0)] {
                    try db.execute(sql: """
                        INSERT INTO flows (uid, start, "end", proto, ip_protocol, ip_version, local_addr, local_port,
                            remote_addr, remote_port, direction, scope, bytes_out, bytes_in, packets_out, packets_in,
                            conn_state, history, community_id, verdict, open)
                        VALUES (?, 1, 2, 'udp', 17, 4, '10.0.0.1', 1, '10.0.0.2', 2, 'outbound', 'lan', 1, 1, 1, 1, 'S0', '', '', 'unrated', ?)
                        """, arguments: [uid, open])
                }
            }
            try queue.close()
        }
        let store = try FlowStore(path: path)
        #expect(try store.finishedFlows(after: 0).map(\.uid) == ["Cx", "Cz"])
        try FlowWriter(store: store).write([FlowWriter.Entry(row: sampleRow(uid: "Cnew", start: 3))])
        #expect(try store.finishedFlows(after: 0).map(\.uid) == ["Cx", "Cz", "Cnew"])
    }
}

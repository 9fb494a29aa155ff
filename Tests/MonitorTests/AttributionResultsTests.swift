import ProcessAttribution
import Testing
@testable import Monitor

/// The attribution worker's answers by flow: shared per process and source, forgotten with the flow.
@Suite struct AttributionResultsTests {
    static func identity(pid: Int32, exe: String = "/usr/bin/curl") -> ProcessIdentity {
        var identity = ProcessIdentity(pid: pid, startTime: UInt64(pid) * 10)
        identity.exe = exe
        return identity
    }

    @Test func flowsOfOneProcessShareOneAnswerAndEachReasonHasOne() {
        var results = AttributionWorker.Results()
        results.insert(1, .process(Self.identity(pid: 7)), source: .kernelEvents)
        results.insert(2, .process(Self.identity(pid: 7)), source: .kernelEvents)
        results.insert(3, .process(Self.identity(pid: 7)), source: nil)
        results.insert(4, .unattributed(.noSocket), source: nil)
        results.insert(5, .unattributed(.noSocket), source: nil)
        let a = results.take(1, ended: false), b = results.take(2, ended: false), c = results.take(3, ended: false)
        #expect(a != nil && a === b)
        #expect(a?.source == .kernelEvents && a?.identity?.pid == 7)
        // Another source is another answer: the source is part of what a flow reports.
        #expect(c !== a && c?.source == .polling)
        #expect(results.take(4, ended: false) === results.take(5, ended: false))
        #expect(results.take(4, ended: false)?.source == nil)
        // A process whose executable changed (exec) gets a new answer.
        results.insert(6, .process(Self.identity(pid: 7, exe: "/usr/bin/python3")), source: .kernelEvents)
        #expect(results.take(6, ended: false)?.identity?.exe == "/usr/bin/python3")
        #expect(results.take(1, ended: false)?.identity?.exe == "/usr/bin/curl")
    }

    @Test func endedFlowsLeaveNothingBehind() {
        var results = AttributionWorker.Results()
        for uid in UInt64(1)...200_000 {
            results.insert(uid, .process(Self.identity(pid: Int32(uid % 50) + 1)), source: .kernelEvents)
            if uid > 10 { _ = results.take(uid - 10, ended: true) }
        }
        #expect(results.byUID.count == 10)
        #expect(results.order.count <= 2 * 10 + 4096, "order kept \(results.order.count) uids for 10 open flows")
        // The flows still open keep their answers, oldest first in the order.
        #expect(Array(results.order.suffix(10)) == Array(UInt64(199_991)...200_000))
        #expect(results.take(199_991, ended: true)?.identity?.pid == Int32(199_991 % 50) + 1)
    }
}

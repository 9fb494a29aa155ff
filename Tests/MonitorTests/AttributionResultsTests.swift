import Flows
import PacketParsing
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

    @Test func anAnswerThatReachedItsRecordIsForgottenUnlessANewerOneCame() {
        var results = AttributionWorker.Results()
        let first = results.insert(1, .process(Self.identity(pid: 7)), source: .kernelEvents)
        let second = results.insert(2, .unattributed(.noSocket), source: nil)
        // The record's copy of the answer names the process for naming; unattributed names none.
        #expect(first.process == ProcessKey(pid: 7, startTime: 70))
        #expect(second.process == nil)
        results.forget(1, ifStill: first)
        #expect(results.take(1, ended: false) == nil)
        // A later answer (the events named the process after all) replaces the one handed over.
        let later = results.insert(2, .process(Self.identity(pid: 8)), source: .kernelEvents)
        results.forget(2, ifStill: second)
        #expect(results.take(2, ended: false) === later)
    }

    @Test func answersInRecordsAreForgottenAfterTheGraceSoOpenFlowsKeepNoEntryHere() {
        var results = AttributionWorker.Results()
        let key = FlowKey.of(PacketSummary()).key
        var owners: [FlowOwner] = []
        for uid in UInt64(1)...50_000 {
            let answer = results.insert(uid, .process(Self.identity(pid: Int32(uid % 50) + 1)), source: .kernelEvents)
            owners.append(FlowOwner(key: key, uid: uid, answer: answer, isResolver: false))
        }
        results.handedOver(owners, now: 1_000_000_000)
        // Within the grace, a flow's copy judged at its start still finds its answer here.
        results.handedOver([], now: 1_000_000_000 + AttributionWorker.Results.handOverGrace - 1)
        #expect(results.take(50_000, ended: false)?.identity?.pid == Int32(50_000 % 50) + 1)
        results.handedOver([], now: 1_000_000_000 + AttributionWorker.Results.handOverGrace)
        #expect(results.byUID.isEmpty)
        #expect(results.handedOver.isEmpty)
    }
}

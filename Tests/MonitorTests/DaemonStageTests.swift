import Foundation
import Capture
import Flows
import PacketParsing
import FlowStore
import Logging
import Policy
import Reporting
import Testing

@testable import Monitor

func temporaryDatabase() throws -> FlowStore {
    let directory = NSTemporaryDirectory() + "telltale-monitor-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return try FlowStore(path: directory + "/t.db")
}

func row(_ uid: String, start: Int64 = 1_000_000_000_000) -> FlowRow {
    FlowRow(
        uid: uid, start: start, end: start + 1_000_000, proto: "udp", ipProtocol: 17, ipVersion: 4,
        localAddress: "192.0.2.2", localPort: 40000, remoteAddress: "198.18.0.9", remotePort: 53,
        direction: .outbound, scope: .internet, bytesOut: 60, bytesIn: 90, packetsOut: 1, packetsIn: 1,
        connState: "SF", history: "Dd", communityID: "1:x=")
}

/// The daemon's stages driven in process, with the time passed in: no capture, no root.
struct DaemonStageTests {
    let second: Int64 = 1_000_000_000

    @Test func theStoreCommitsOncePerFlushIntervalAndWhenForced() throws {
        let store = try temporaryDatabase()
        var stage = StoreStage(writer: FlowWriter(store: store), flushInterval: 5 * second)
        stage.add([(row("A"), false)], intervals: [])
        #expect(stage.flush(now: 100 * second) == .written(1))
        stage.add([(row("B"), false)], intervals: [])
        // Within the interval nothing is written; the flow waits.
        #expect(stage.flush(now: 101 * second) == .nothingDue)
        #expect(try store.flowCount() == 1)
        #expect(stage.flush(now: 105 * second) == .written(1))
        stage.add([(row("C"), true)], intervals: [])
        #expect(stage.flush(now: 106 * second, force: true) == .written(1))
        #expect(try store.flowCount() == 3)
        #expect(stage.written == 3)
    }

    @Test func aBurstIsCommittedInSlicesWithoutWaitingForTheInterval() throws {
        let store = try temporaryDatabase()
        var stage = StoreStage(writer: FlowWriter(store: store), flushInterval: 60 * second)
        stage.batchLimit = 3
        stage.add([(row("B0"), false)], intervals: [])
        #expect(stage.flush(now: 100 * second) == .written(1))
        stage.add((1...4).map { (row("B\($0)"), true) }, intervals: [])
        // Within the interval, but the batch is full: written now.
        #expect(stage.flush(now: 101 * second) == .written(4))
        stage.add([(row("B5"), false)], intervals: [])
        #expect(stage.flush(now: 102 * second) == .nothingDue)
    }

    @Test func flowsWaitingPastTheCapAreDroppedAndCounted() throws {
        let store = try temporaryDatabase()
        var stage = StoreStage(writer: FlowWriter(store: store), flushInterval: second, maxPending: 3)
        stage.add((0..<5).map { (row("F\($0)"), false) }, intervals: [])
        #expect(stage.waiting == 3)
        #expect(stage.dropped == 2)
        let interval = CaptureInterval(time: 10 * second, interval: second, frames: 5)
        stage.add([], intervals: [interval])
        #expect(stage.flush(now: 10 * second, queueDropped: 4) == .written(3))
        // The newest waited; the oldest went, and the interval records every loss.
        #expect(try store.flows(in: TimeWindow()).map(\.uid).sorted() == ["F2", "F3", "F4"])
        #expect(try store.coverage(in: TimeWindow()).queueDropped == 6)
    }

    @Test func aFlowRaisesOneAlertWhetherJudgedAtItsStartOrAtItsEnd() {
        var raised: [AlertRecord] = []
        var stage = AlertStage { raised.append($0) }
        var decision = Decision(verdict: .alert)
        decision.rule = "model-runtime/default"
        decision.role = "model-runtime"
        let flagged = LivePipeline.Decided(row: row("X"), decision: decision, isOpen: true)
        let fine = LivePipeline.Decided(row: row("Y"), decision: Decision(verdict: .allowed), isOpen: false)
        stage.started([flagged, fine])
        do { var written = [flagged]; stage.written(&written) }
        var ended = flagged
        ended.isOpen = false
        do { var written = [ended, fine]; stage.written(&written) }
        #expect(raised.count == 1)
        #expect(raised.first?.flowUID == "X")
        #expect(raised.first?.rule == "model-runtime/default")
        // Once ended, the uid is forgotten: a new flow that reuses it is judged afresh.
        do { var written = [ended]; stage.written(&written) }
        #expect(raised.count == 2)
    }

    @Test func anAlertNamesTheDestinationItsFlowNamesNotAnEarlierDNSAnswer() {
        var raised: [AlertRecord] = []
        var stage = AlertStage { raised.append($0) }
        var decision = Decision(verdict: .alert)
        decision.rule = "chatbot-ui/default"
        var early = row("T")
        early.proto = "tcp"
        early.remotePort = 443
        early.hostname = "telemetry.lab.test"
        early.nameSource = "dns"
        stage.started([LivePipeline.Decided(row: early, decision: decision, isOpen: true)])
        #expect(raised.isEmpty)  // the first packets may still say more (a TLS server name)
        var named = early
        named.hostname = "api.openai.com"
        named.nameSource = "sni"
        do { var written = [LivePipeline.Decided(row: named, decision: decision, isOpen: true)]; stage.written(&written) }
        #expect(raised.map(\.hostname) == ["api.openai.com"])
        #expect(raised.first?.nameSource == "sni")
        #expect(raised.first?.message.contains("name from sni") == true)
        // A DNS query has nothing more to learn: alerted at once, and said as what it is.
        var query = row("Q")
        query.proto = "udp"
        query.remotePort = 53
        query.hostname = "huggingface.co"
        query.nameSource = "dns"
        stage.started([LivePipeline.Decided(row: query, decision: decision, isOpen: true)])
        #expect(raised.count == 2)
        #expect(raised.last?.message.contains("DNS query for huggingface.co to") == true, "\(raised.last?.message ?? "")")
    }

    @Test func theHeartbeatSaysHowFlowsAreAttributed() throws {
        let store = try temporaryDatabase()
        var housekeeping = Housekeeping(
            store: store, notifier: SystemdNotifier(environment: [:]), logger: Logger(label: "test"), started: second,
            interfaces: ["any"], attribution: "kernel-events")
        var counters = PipelineCounters()
        counters.frames = 42
        housekeeping.tick(
            now: 100 * second, counters: counters, statistics: CaptureStatistics(), written: 7, storeState: "ok",
            eventDropped: 3, retention: DaemonConfiguration())
        let state = try #require(try store.daemonState())
        #expect(state.frames == 42)
        #expect(state.flows == 7)
        #expect(state.attribution == "kernel-events")
        #expect(state.eventDropped == 3)
        // Not due again within five seconds.
        housekeeping.tick(
            now: 101 * second, counters: counters, statistics: CaptureStatistics(), written: 9, storeState: "ok",
            eventDropped: 3, retention: DaemonConfiguration())
        #expect(try store.daemonState()?.flows == 7)
    }
}

import Foundation
import Logging
import Synchronization
import Testing
@testable import Alerting
import FlowStore
import Reporting

/// Lines a `CapturingLogHandler` kept.
final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
}

/// A log handler that keeps each message and its metadata as one line of text.
struct CapturingLogHandler: LogHandler {
    let store: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        store.lines.withLock { $0.append(([event.message.description] + fields).joined(separator: " ")) }
    }
}

@Suite struct LogSinkTests {
    @Test func controlCharactersFromAProcessOrTheWireCannotForgeLogLines() {
        let store = LogLines()
        let logger = Logger(label: "test") { _ in CapturingLogHandler(store: store) }
        var alert = sampleAlert(time: 1, exe: "/tmp/x\n2026-12-05T00:00:00+0000 info telltale: all clear\u{1b}[2K", host: "evil\r.example")
        alert.role = "r\u{1b}]0;title\u{07}"
        alert.message = "posted\nforged line"
        #expect(LogSink(logger: logger).deliver(alert, json: alert.json))
        let logged = store.lines.withLock { $0 }
        #expect(logged.count == 1)
        for line in logged {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, "\(line.debugDescription)")
            #expect(line.contains("/tmp/x\\x0a2026"))
        }
    }
}

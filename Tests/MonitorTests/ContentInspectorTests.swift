import Content
import Flows
import PacketParsing
import Testing
import TestSupport
@testable import Monitor

/// Content evidence through the packet path: a prompt on loopback to a runtime, then egress
/// carrying (or not) its words, read from frames as the capture hands them over.
@Suite struct ContentInspectorTests {
    static let machine: IPAddress = "10.0.0.2"
    static let internet: IPAddress = "198.18.0.10"
    static let loopback: IPAddress = "127.0.0.1"
    static let prompt = """
        Please summarise the quarterly revenue projections for the northern orchard cooperative, including \
        the pear harvest estimates, the irrigation budget, the volunteer schedule and the weather risks \
        that the board discussed on Tuesday evening at the old mill
        """

    /// A pipeline with content inspection, fed frames at 1 ms steps.
    struct Lab {
        var pipeline: FlowPipeline
        let inspector: ContentInspector
        var time: Int64 = 1_700_000_000_000_000_000

        init(minimumWords: Int = 8) {
            var settings = ContentSettings()
            settings.enabled = true
            settings.minimumWords = minimumWords
            inspector = ContentInspector(
                settings: settings, local: LocalNetwork(addresses: [ContentInspectorTests.machine]),
                describe: { "program-\($0.pid)" })
            pipeline = FlowPipeline(table: FlowTable(timeouts: FlowTimeouts(), uidSeed: 1), names: nil, contentTap: inspector.tap)
        }

        /// Sends `payload` in `pieces` TCP segments (after a SYN) from `from` to `to`.
        mutating func tcp(_ payload: [UInt8], from: (IPAddress, UInt16), to: (IPAddress, UInt16), pieces: Int = 1) {
            var sequence: UInt32 = 5000
            send(.v4(from: from.0, to: to.0), .tcp(sourcePort: from.1, destinationPort: to.1, flags: .syn, sequence: sequence - 1))
            let size = max(1, (payload.count + pieces - 1) / pieces)
            var offset = 0
            while offset < payload.count {
                let chunk = Array(payload[offset..<min(payload.count, offset + size)])
                send(.v4(from: from.0, to: to.0), .tcp(sourcePort: from.1, destinationPort: to.1, flags: .pshAck, payload: chunk, sequence: sequence))
                sequence &+= UInt32(chunk.count)
                offset += chunk.count
            }
        }

        mutating func udp(_ payload: [UInt8], from: (IPAddress, UInt16), to: (IPAddress, UInt16)) {
            send(.v4(from: from.0, to: to.0), .udp(sourcePort: from.1, destinationPort: to.1, payload: payload))
        }

        mutating func send(_ ip: FrameBuilder.IPHeader, _ transport: FrameBuilder.Transport) {
            let frame = FrameBuilder.frame(ip: ip, transport: transport)
            time += 1_000_000
            frame.withUnsafeBytes { pipeline.process($0, wireLength: frame.count, timestamp: time, linkType: .ethernet) }
        }

        func content(from: (IPAddress, UInt16), to: (IPAddress, UInt16), proto: UInt8 = IPProtocolNumber.tcp) -> ContentInspector.FlowContent {
            inspector.drain()
            var packet = PacketSummary()
            packet.source = from.0
            packet.destination = to.0
            packet.sourcePort = from.1
            packet.destinationPort = to.1
            packet.ipProtocol = proto
            return inspector.content(of: FlowKey.of(packet).key, ended: true)
        }
    }

    static func chatRequest(_ text: String, chunked: Bool) -> [UInt8] {
        let body = #"{"model":"tiny","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"\#(text)"}]}"#
        if chunked {
            let bytes = Array(body.utf8)
            let half = bytes.count / 2
            var out = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            out += String(half, radix: 16) + "\r\n" + String(decoding: bytes[..<half], as: UTF8.self) + "\r\n"
            out += String(bytes.count - half, radix: 16) + "\r\n" + String(decoding: bytes[half...], as: UTF8.self) + "\r\n0\r\n\r\n"
            return Array(out.utf8)
        }
        return Array("POST /api/chat HTTP/1.1\r\nHost: localhost:11434\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    @Test func wordsOfAPromptForwardedInOtherJSONAreFoundWithTheirExactRun() {
        var lab = Lab()
        lab.tcp(Self.chatRequest(Self.prompt, chunked: true), from: (Self.loopback, 51000), to: (Self.loopback, 8080), pieces: 7)
        // 14 words of the prompt, inside another program's JSON, upper-cased, with escapes.
        let forwarded = #"{"event":"chat","text":"THE PEAR HARVEST ESTIMATES, the irrigation budget,\n the volunteer schedule and the \"weather\" risks","n":3}"#
        lab.tcp(Array("POST /collect HTTP/1.1\r\nHost: api.example\r\nContent-Length: \(forwarded.utf8.count)\r\n\r\n\(forwarded)".utf8),
                from: (Self.machine, 40000), to: (Self.internet, 80), pieces: 3)
        let content = lab.content(from: (Self.machine, 40000), to: (Self.internet, 80))
        #expect(content.visibility == "wire-plaintext")
        #expect(content.promptMatches == 1)
        #expect(content.newFindings.count == 1)
        let finding = content.newFindings.first
        #expect(finding?.matchedWords == 14)
        #expect(finding?.visibility == "wire-plaintext")
        #expect(finding?.promptProcess == "pid 0" || finding?.promptProcess?.hasPrefix("program-") == true)
        #expect(finding?.runtime == "port 8080")
        // The system message (three words) is shorter than a shingle: only the user's is kept.
        #expect(lab.inspector.promptsSeen.count == 1)
        #expect(lab.inspector.counters.requestsSeen == 1)
    }

    @Test func egressWithoutThePromptsWordsOrWithTooShortARunFindsNothing() {
        var lab = Lab()
        lab.tcp(Self.chatRequest(Self.prompt, chunked: false), from: (Self.loopback, 51001), to: (Self.loopback, 11434))
        // Seven words in a row is below the minimum run of eight.
        lab.tcp(Array("the pear harvest estimates the irrigation budget and nothing else of it".utf8),
                from: (Self.machine, 40001), to: (Self.internet, 80))
        lab.tcp(Array("GET /weather?city=paris HTTP/1.1\r\nHost: example.org\r\n\r\n".utf8), from: (Self.machine, 40002), to: (Self.internet, 80))
        #expect(lab.content(from: (Self.machine, 40001), to: (Self.internet, 80)).promptMatches == 0)
        #expect(lab.content(from: (Self.machine, 40002), to: (Self.internet, 80)).newFindings.isEmpty)
    }

    @Test func encryptedEgressIsOpaqueNeverClean() {
        var lab = Lab()
        lab.tcp(Self.chatRequest(Self.prompt, chunked: false), from: (Self.loopback, 51002), to: (Self.loopback, 11434))
        lab.tcp([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], from: (Self.machine, 40003), to: (Self.internet, 443))
        let content = lab.content(from: (Self.machine, 40003), to: (Self.internet, 443))
        #expect(content.visibility == "opaque")
        #expect(content.promptMatches == 0)
        // A protocol whose payload is not read at all says so.
        #expect(lab.content(from: (Self.machine, 0), to: (Self.internet, 0), proto: IPProtocolNumber.icmp).visibility == "not-inspected")
    }

    @Test func aCanarySpelledInADNSQueryIsALeakWithItsLabel() throws {
        var lab = Lab()
        let token = try #require(try? Content.Canary.generate(randomBytes: Array(repeating: 7, count: 13)))
        lab.inspector.setCanaries([(token, "pasted into the notes app")])
        var query: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in [token.uppercased(), "exfil", "example"] {
            query.append(UInt8(label.utf8.count))
            query += Array(label.utf8)
        }
        query += [0, 0, 1, 0, 1]
        lab.udp(query, from: (Self.machine, 53000), to: (Self.internet, 53))
        let content = lab.content(from: (Self.machine, 53000), to: (Self.internet, 53), proto: IPProtocolNumber.udp)
        #expect(content.newFindings.map { $0.canary } == ["pasted into the notes app"])
        #expect(content.promptMatches == 1)
    }

    @Test func aCompressedRequestIsCountedAsSkippedNotRead() {
        var lab = Lab()
        lab.tcp(Array("POST /v1/completions HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\u{1f}\u{8b}\u{8}\u{0}".utf8),
                from: (Self.loopback, 51003), to: (Self.loopback, 8080))
        lab.inspector.drain()
        #expect(lab.inspector.counters.requestsSeen == 1)
        #expect(lab.inspector.counters.requestsSkipped == 1)
        #expect(lab.inspector.promptsSeen.isEmpty)
    }
}

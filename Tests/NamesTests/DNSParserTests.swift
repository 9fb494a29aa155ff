import NameParsing
import PacketParsing
import Testing

@Suite struct DNSParserTests {
    @Test func readsAQuestionAndAnAddressAnswerWithItsTTL() throws {
        var b = DNSBuilder(id: 0x1234, flags: 0x8180, questions: 1, answers: 1)
        b.question("Example.COM", type: 1)
        b.record(nil, type: 1, ttl: 300, data: [198, 18, 1, 2])
        let message = try DNSParser.parse(b.bytes)
        #expect(message.id == 0x1234)
        #expect(message.isResponse)
        #expect(message.questions == [.init(name: "example.com", type: 1)])
        #expect(message.answers == [.init(name: "example.com", type: 1, ttl: 300, data: .address(.literal("198.18.1.2")))])
    }

    @Test func readsAnAAAAAnswer() throws {
        var b = DNSBuilder(id: 7, flags: 0x8180, questions: 1, answers: 1)
        b.question("v6.example", type: 28)
        b.record(nil, type: 28, ttl: 60, data: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
        let message = try DNSParser.parse(b.bytes)
        #expect(message.answers.first?.data == .address(.literal("2001:db8::1")))
    }

    @Test func followsACNAMEChainBackToTheAskedName() throws {
        var b = DNSBuilder(id: 9, flags: 0x8180, questions: 1, answers: 3)
        b.question("api.segment.io", type: 1)
        let firstTarget = b.bytes.count + 12  // where the first CNAME's target name will start
        b.record(nil, type: 5, ttl: 30, data: DNSBuilder.nameBytes("edge.cdn.example"))
        b.record(nil, type: 5, ttl: 30, data: DNSBuilder.nameBytes("x"))  // noise: a second alias of the asked name
        // The address record's owner is a pointer to the first CNAME's target.
        b.bytes += [0xc0 | UInt8(firstTarget >> 8), UInt8(firstTarget & 0xff)]
        b.u16(1); b.u16(1); b.u32(20); b.u16(4)
        b.bytes += [198, 18, 7, 7]
        let message = try DNSParser.parse(b.bytes)
        #expect(message.answers[0].data == .canonicalName("edge.cdn.example"))
        #expect(message.answers[2].name == "edge.cdn.example")
        let bindings = message.addressBindings
        #expect(bindings.count == 1)
        #expect(bindings.first?.name == "api.segment.io")
        #expect(bindings.first?.address == .literal("198.18.7.7"))
        #expect(bindings.first?.ttl == 20)
    }

    @Test func readsHTTPSRecordAddressHints() throws {
        var b = DNSBuilder(id: 3, flags: 0x8180, questions: 1, answers: 1)
        b.question("svc.example", type: 65)
        b.record(nil, type: 65, ttl: 120, data: DNSBuilder.serviceData(
            priority: 1, target: "", v4: [[198, 18, 3, 1], [198, 18, 3, 2]], v6: [[0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [5]]))
        let message = try DNSParser.parse(b.bytes)
        guard case .service(let priority, let target, let hints) = message.answers.first?.data else {
            Issue.record("no service record in \(message)")
            return
        }
        #expect(priority == 1)
        #expect(target == "")
        #expect(hints == [.literal("198.18.3.1"), .literal("198.18.3.2"), .literal("2001:db8::5")])
        #expect(message.addressBindings.map(\.name) == ["svc.example", "svc.example", "svc.example"])
    }

    @Test func namesAPortPrefixedSVCBOwnerByItsHost() throws {
        var b = DNSBuilder(id: 3, flags: 0x8180, questions: 1, answers: 1)
        b.question("_8443._https.svc.example", type: 64)
        b.record(nil, type: 64, ttl: 120, data: DNSBuilder.serviceData(priority: 1, target: "", v4: [[198, 18, 3, 9]], v6: []))
        let message = try DNSParser.parse(b.bytes)
        #expect(message.addressBindings.first?.name == "svc.example")
    }

    @Test func ignoresUnsolicitedAddressesInTheAdditionalSection() throws {
        var b = DNSBuilder(id: 5, flags: 0x8180, questions: 1, answers: 1, additionals: 1)
        b.question("asked.example", type: 1)
        b.record(nil, type: 1, ttl: 60, data: [198, 18, 1, 1])
        b.record("bank.example", type: 1, ttl: 60, data: [198, 18, 6, 6])
        let message = try DNSParser.parse(b.bytes)
        #expect(message.additionals.count == 1)
        #expect(message.addressBindings.map(\.name) == ["asked.example"])
    }

    @Test func readsMessagesFromATCPStreamWithLengthPrefixes() throws {
        var b = DNSBuilder(id: 44, flags: 0x8180, questions: 1, answers: 1)
        b.question("tcp.example", type: 1)
        b.record(nil, type: 1, ttl: 5, data: [198, 18, 4, 4])
        let framed = [UInt8(b.bytes.count >> 8), UInt8(b.bytes.count & 0xff)] + b.bytes
        let stream = framed + framed + framed.prefix(7)
        let result = try stream.withUnsafeBytes { try DNSParser.parseStream($0) }
        #expect(result.messages.count == 2)
        #expect(result.consumed == 2 * framed.count)
        #expect(result.messages.first?.answers.first?.data == .address(.literal("198.18.4.4")))
    }

    @Test func rejectsAPointerToItself() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 0)
        b.bytes += [0xc0, 12, 0, 1, 0, 1]
        #expect(throws: DNSParseError.pointerLoop) { try DNSParser.parse(b.bytes) }
    }

    @Test func rejectsTwoPointersThatPointAtEachOther() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 1)
        b.question("a.example", type: 1)
        // The answer's owner: label "x" then a pointer forward to itself (offset of this label).
        let here = b.bytes.count
        b.bytes += [1, UInt8(ascii: "x"), 0xc0 | UInt8(here >> 8), UInt8(here & 0xff)]
        b.u16(1); b.u16(1); b.u32(1); b.u16(4); b.bytes += [1, 2, 3, 4]
        #expect(throws: DNSParseError.pointerLoop) { try DNSParser.parse(b.bytes) }
    }

    @Test func rejectsAForwardPointer() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 0)
        b.bytes += [0xc0, 40, 0, 1, 0, 1]
        b.bytes += Array(repeating: 0, count: 40)
        #expect(throws: DNSParseError.pointerLoop) { try DNSParser.parse(b.bytes) }
    }

    @Test func rejectsATruncatedRecord() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 1)
        b.question("cut.example", type: 1)
        b.record(nil, type: 1, ttl: 5, data: [198, 18, 4, 4])
        for cut in 1..<16 {
            #expect(throws: DNSParseError.self) { try DNSParser.parse(Array(b.bytes.dropLast(cut))) }
        }
    }

    @Test func rejectsCountsTheMessageCannotHold() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 65_535)
        b.question("many.example", type: 1)
        b.record(nil, type: 1, ttl: 5, data: [198, 18, 4, 4])
        #expect(throws: DNSParseError.absurdCounts) { try DNSParser.parse(b.bytes) }
    }

    @Test func rejectsANameLongerThan255Bytes() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 0)
        let label = String(repeating: "a", count: 63)
        b.question([label, label, label, label, label].joined(separator: "."), type: 1)
        #expect(throws: DNSParseError.nameTooLong) { try DNSParser.parse(b.bytes) }
    }

    @Test func rejectsReservedLabelTypes() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 0)
        b.bytes += [0x41, 0, 0, 1, 0, 1]
        #expect(throws: DNSParseError.badLabel) { try DNSParser.parse(b.bytes) }
    }

    @Test func rejectsAnAddressRecordOfTheWrongLength() {
        var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 1)
        b.question("odd.example", type: 1)
        b.record(nil, type: 1, ttl: 5, data: [198, 18, 4])
        #expect(throws: DNSParseError.malformedRecord) { try DNSParser.parse(b.bytes) }
    }

    @Test func escapesControlCharactersAndDotsInsideLabels() throws {
        var b = DNSBuilder(id: 1, flags: 0x0100, questions: 1, answers: 0)
        b.bytes += [5, UInt8(ascii: "a"), 0x1b, UInt8(ascii: "."), UInt8(ascii: "b"), UInt8(ascii: "C"), 3] + Array("com".utf8) + [0]
        b.u16(1); b.u16(1)
        let message = try DNSParser.parse(b.bytes)
        #expect(message.questions.first?.name == "a\\027\\046bc.com")
    }

    @Test func survivesRandomBytesWithoutTrapping() {
        var generator = SystemRandomNumberGenerator()
        var parsed = 0
        for _ in 0..<3000 {
            var b = DNSBuilder(id: 1, flags: 0x8180, questions: 1, answers: 2)
            b.question("fuzz.example", type: 1)
            b.record(nil, type: 5, ttl: 5, data: DNSBuilder.nameBytes("t.example"))
            b.record(nil, type: 1, ttl: 5, data: [198, 18, 4, 4])
            for _ in 0..<3 {
                let index = Int.random(in: 0..<b.bytes.count, using: &generator)
                b.bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if (try? DNSParser.parse(b.bytes)) != nil { parsed += 1 }
        }
        #expect(parsed < 3000)  // some mutations must have been caught
    }
}

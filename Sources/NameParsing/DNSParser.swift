public import PacketParsing

/// Why a DNS message could not be read.
public enum DNSParseError: Error, Sendable, Equatable {
    /// The message ends inside a header, name or record.
    case truncated
    /// A compression pointer does not point strictly backwards, or too many pointers were followed.
    case pointerLoop
    /// A name is longer than 255 bytes on the wire.
    case nameTooLong
    /// A label length uses the reserved 0x40 or 0x80 forms.
    case badLabel
    /// The section counts promise more records than the message can hold.
    case absurdCounts
    /// A record's data disagrees with its type (an A record that is not 4 bytes, say).
    case malformedRecord
}

/// Parses DNS messages (RFC 1035, RFC 9460 for HTTPS/SVCB) from bytes off the wire.
///
/// Every count, length and pointer comes from outside: nothing here traps on it, and the work is
/// bounded by the message length (pointers must point backwards, at most 128 are followed per name).
public enum DNSParser {
    /// The most records of a section that are kept; more are skipped over.
    public static let maximumRecordsKept = 256

    /// Parses one message, as carried in a UDP datagram.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(DNSParseError) -> DNSMessage {
        var c = ByteCursor(bytes)
        do {
            let id = try c.u16(), flags = try c.u16()
            let qd = Int(try c.u16()), an = Int(try c.u16()), ns = Int(try c.u16()), ar = Int(try c.u16())
            // A question takes at least 5 bytes, a record at least 11: counts beyond that are lies.
            if qd * 5 + (an + ns + ar) * 11 > c.remaining { throw DNSParseError.absurdCounts }
            var message = DNSMessage(id: id, flags: flags)
            for _ in 0..<qd {
                let name = try readName(&c)
                let type = try c.u16(), recordClass = try c.u16()
                if message.questions.count < maximumRecordsKept {
                    message.questions.append(.init(name: name, type: type, recordClass: recordClass))
                }
            }
            for index in 0..<(an + ns + ar) {
                let record = try readRecord(&c)
                if index < an {
                    if message.answers.count < maximumRecordsKept { message.answers.append(record) }
                } else if index >= an + ns, message.additionals.count < maximumRecordsKept {
                    if record.type != 41 { message.additionals.append(record) }  // OPT is no answer
                }
            }
            return message
        } catch let error as DNSParseError {
            throw error
        } catch {
            throw .truncated
        }
    }

    /// Parses one message from a `[UInt8]`.
    public static func parse(_ bytes: [UInt8]) throws(DNSParseError) -> DNSMessage {
        try bytes.withBytes { raw throws(DNSParseError) in try parse(raw) }
    }

    /// Parses the messages of a DNS-over-TCP stream (each after a 2-byte length), as far as complete.
    ///
    /// - Returns: the messages and how many bytes they took; the rest is an incomplete message.
    public static func parseStream(_ bytes: UnsafeRawBufferPointer) throws(DNSParseError) -> (messages: [DNSMessage], consumed: Int) {
        var messages: [DNSMessage] = []
        var offset = 0
        while bytes.count - offset >= 2 {
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length >= 12 else { throw .truncated }
            guard bytes.count - offset - 2 >= length else { break }
            let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + 2)..<(offset + 2 + length)])
            messages.append(try parse(body))
            offset += 2 + length
        }
        return (messages, offset)
    }

    static func readRecord(_ c: inout ByteCursor) throws -> DNSMessage.Record {
        let name = try readName(&c)
        let type = try c.u16(), recordClass = try c.u16()
        let ttl = try c.u32()
        let length = Int(try c.u16())
        let start = c.offset
        guard length <= c.remaining else { throw DNSParseError.truncated }
        let data: DNSMessage.RecordData
        switch type {
        case DNSMessage.RecordType.a:
            guard length == 4 else { throw DNSParseError.malformedRecord }
            data = .address(IPAddress(v4: try c.u32()))
        case DNSMessage.RecordType.aaaa:
            guard length == 16 else { throw DNSParseError.malformedRecord }
            data = .address(try readIPv6(&c))
        case DNSMessage.RecordType.cname:
            var inner = ByteCursor(UnsafeRawBufferPointer(rebasing: c.bytes[0..<(start + length)]), offset: start)
            data = .canonicalName(try readName(&inner))
        case DNSMessage.RecordType.https, DNSMessage.RecordType.svcb:
            data = try readService(c.bytes, start: start, length: length)
        default:
            data = .other(length: length)
        }
        // RDATA may be read through pointers but the next record starts after its declared length.
        c.offset = start + length
        // Class IN with the mDNS cache-flush bit is still IN.
        return .init(name: name, type: type, recordClass: recordClass & 0x7fff, ttl: ttl & 0x7fff_ffff, data: data)
    }

    static func readIPv6(_ c: inout ByteCursor) throws -> IPAddress {
        let a = UInt64(try c.u32()), b = UInt64(try c.u32()), d = UInt64(try c.u32()), e = UInt64(try c.u32())
        return IPAddress(v6High: a << 32 | b, low: d << 32 | e)
    }

    /// Reads HTTPS/SVCB RDATA: priority, target, then the parameters; keeps ipv4hint (4) and ipv6hint (6).
    static func readService(_ message: UnsafeRawBufferPointer, start: Int, length: Int) throws -> DNSMessage.RecordData {
        // The target is not compressed (RFC 9460 §2.2), but reading it as a name is harmless.
        var c = ByteCursor(UnsafeRawBufferPointer(rebasing: message[0..<(start + length)]), offset: start)
        let priority = try c.u16()
        let target = try readName(&c)
        var hints: [IPAddress] = []
        while !c.isAtEnd {
            let key = try c.u16()
            let valueLength = Int(try c.u16())
            var value = ByteCursor(try c.take(valueLength))
            switch key {
            case 4:
                guard valueLength % 4 == 0 else { throw DNSParseError.malformedRecord }
                while !value.isAtEnd { hints.append(IPAddress(v4: try value.u32())) }
            case 6:
                guard valueLength % 16 == 0 else { throw DNSParseError.malformedRecord }
                while !value.isAtEnd { hints.append(try readIPv6(&value)) }
            default:
                continue
            }
        }
        return .service(priority: priority, target: target, hints: hints)
    }

    /// Reads a possibly compressed name, lower-cased, dot-separated, without the root dot ("" for the root).
    ///
    /// Bytes that are not printable ASCII (and `.` or `\` inside a label) are written as `\DDD`, the
    /// way zone files and `dig` do, so a hostile label cannot smuggle control characters or fake dots.
    static func readName(_ c: inout ByteCursor) throws -> String {
        var text: [UInt8] = []
        var wireLength = 0
        var position = c.offset
        var limit = c.offset  // a pointer must point before the start of the labels that led to it
        var jumped = false
        var jumps = 0
        while true {
            guard position >= 0, position < c.bytes.count else { throw DNSParseError.truncated }
            let length = Int(c.bytes[position])
            switch length & 0xc0 {
            case 0x00:
                if length == 0 {
                    if !jumped { c.offset = position + 1 }
                    return String(decoding: text, as: UTF8.self)
                }
                wireLength += length + 1
                if wireLength > 255 { throw DNSParseError.nameTooLong }
                guard position + 1 + length <= c.bytes.count else { throw DNSParseError.truncated }
                if !text.isEmpty { text.append(UInt8(ascii: ".")) }
                for index in (position + 1)...(position + length) {
                    appendEscaped(c.bytes[index], to: &text)
                }
                position += 1 + length
            case 0xc0:
                guard position + 1 < c.bytes.count else { throw DNSParseError.truncated }
                let target = (length & 0x3f) << 8 | Int(c.bytes[position + 1])
                jumps += 1
                guard target < limit, jumps <= 128 else { throw DNSParseError.pointerLoop }
                if !jumped { c.offset = position + 2 }
                jumped = true
                limit = target
                position = target
            default:
                throw DNSParseError.badLabel
            }
        }
    }

    static func appendEscaped(_ byte: UInt8, to text: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
            text.append(byte + 32)
        case 0x21...0x7e where byte != UInt8(ascii: ".") && byte != UInt8(ascii: "\\"):
            text.append(byte)
        default:
            text.append(UInt8(ascii: "\\"))
            text.append(UInt8(ascii: "0") + byte / 100)
            text.append(UInt8(ascii: "0") + byte / 10 % 10)
            text.append(UInt8(ascii: "0") + byte % 10)
        }
    }
}

import PacketParsing

/// Builds DNS messages byte by byte, so tests can write both honest and hostile ones.
struct DNSBuilder {
    var bytes: [UInt8] = []

    init(id: UInt16, flags: UInt16, questions: Int, answers: Int, authorities: Int = 0, additionals: Int = 0) {
        for value in [id, flags, UInt16(questions), UInt16(answers), UInt16(authorities), UInt16(additionals)] {
            u16(value)
        }
    }

    mutating func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xff)] }
    mutating func u32(_ value: UInt32) { u16(UInt16(value >> 16)); u16(UInt16(value & 0xffff)) }

    /// Writes a name as labels, ending in the root, or in a pointer to `pointer`.
    mutating func name(_ text: String, pointer: Int? = nil) {
        for label in text.split(separator: ".") where !label.isEmpty {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        if let pointer {
            bytes += [0xc0 | UInt8(pointer >> 8), UInt8(pointer & 0xff)]
        } else {
            bytes.append(0)
        }
    }

    mutating func question(_ text: String, type: UInt16) {
        name(text)
        u16(type)
        u16(1)
    }

    /// Writes a record whose RDATA is `data`; `owner` nil means a pointer to the first question's name (offset 12).
    mutating func record(_ owner: String?, type: UInt16, ttl: UInt32, data: [UInt8]) {
        if let owner { name(owner) } else { bytes += [0xc0, 12] }
        u16(type)
        u16(1)
        u32(ttl)
        u16(UInt16(data.count))
        bytes += data
    }

    static func nameBytes(_ text: String) -> [UInt8] {
        var b = DNSBuilder(id: 0, flags: 0, questions: 0, answers: 0)
        b.bytes.removeAll()
        b.name(text)
        return b.bytes
    }

    /// RDATA of an HTTPS/SVCB record with alpn, ipv4hint and ipv6hint parameters.
    static func serviceData(priority: UInt16, target: String, v4: [[UInt8]], v6: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [UInt8(priority >> 8), UInt8(priority & 0xff)]
        out += nameBytes(target)
        out += [0, 1, 0, 3, 2] + Array("h2".utf8)  // alpn=h2
        if !v4.isEmpty { out += [0, 4, 0, UInt8(4 * v4.count)] + v4.flatMap { $0 } }
        if !v6.isEmpty { out += [0, 6, 0, UInt8(16 * v6.count)] + v6.flatMap { $0 } }
        return out
    }
}

/// Builds TLS ClientHello messages with chosen extensions.
enum ClientHelloBuilder {
    /// The handshake message: type 1, 3-byte length, body.
    static func handshake(serverName: String?, ech: Bool = false, padding: Int = 0, alpn: [String] = []) -> [UInt8] {
        var extensions: [UInt8] = []
        func add(_ type: UInt16, _ body: [UInt8]) {
            extensions += [UInt8(type >> 8), UInt8(type & 0xff), UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
        }
        if let serverName {
            let name = Array(serverName.utf8)
            let entry: [UInt8] = [0, UInt8(name.count >> 8), UInt8(name.count & 0xff)] + name
            add(0x0000, [UInt8(entry.count >> 8), UInt8(entry.count & 0xff)] + entry)
        }
        if !alpn.isEmpty {
            let list = alpn.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
            add(0x0010, [UInt8(list.count >> 8), UInt8(list.count & 0xff)] + list)
        }
        add(0x002b, [2, 0x03, 0x04])  // supported_versions: TLS 1.3
        if ech { add(0xfe0d, [0x00, 0x00, 0x01, 0x00, 0x01, 0x07, 0x00, 0x20] + Array(repeating: 0xab, count: 32) + [0x00, 0x10] + Array(repeating: 0xcd, count: 16)) }
        if padding > 0 { add(0x0015, Array(repeating: 0, count: padding)) }
        var body: [UInt8] = [0x03, 0x03] + Array(repeating: 0x11, count: 32)
        body += [32] + Array(repeating: 0x22, count: 32)  // session id
        body += [0, 4, 0x13, 0x01, 0x13, 0x02]  // cipher suites
        body += [1, 0]  // compression
        body += [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xff)] + extensions
        return [1, UInt8(body.count >> 16), UInt8((body.count >> 8) & 0xff), UInt8(body.count & 0xff)] + body
    }

    /// The handshake message in TLS records of at most `recordSize` bytes of fragment each.
    static func records(_ handshake: [UInt8], recordSize: Int = 16_384) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < handshake.count {
            let chunk = handshake[index..<min(handshake.count, index + recordSize)]
            out += [0x16, 0x03, 0x01, UInt8(chunk.count >> 8), UInt8(chunk.count & 0xff)] + chunk
            index += chunk.count
        }
        return out
    }
}

extension IPAddress {
    /// Parses a literal address in tests, where a bad literal is a bug in the test.
    static func literal(_ text: String) -> IPAddress {
        IPAddress(text) ?? IPAddress(v4: 0)
    }
}

/// What a TLS ClientHello says about its destination.
public struct ClientHello: Sendable, Equatable {
    /// The server_name extension's host name, lower-cased; with ECH, the outer (public) name.
    public var serverName: String?
    /// Whether the ClientHello carries an encrypted_client_hello extension (0xfe0d): the real name
    /// is encrypted, and `serverName` is only the provider's public name.
    public var encryptedClientHello: Bool
    /// The ALPN protocols offered (`h2`, `http/1.1`, `h3`…).
    public var applicationProtocols: [String]

    public init(serverName: String?, encryptedClientHello: Bool = false, applicationProtocols: [String] = []) {
        self.serverName = serverName
        self.encryptedClientHello = encryptedClientHello
        self.applicationProtocols = applicationProtocols
    }
}

/// Why a ClientHello could not be read.
public enum ClientHelloError: Error, Sendable, Equatable {
    /// The bytes are not a TLS handshake record or not a ClientHello.
    case notClientHello
    /// The ClientHello is cut short: at least `needed` bytes in all are required (when known).
    case incomplete(needed: Int)
    /// A length inside the ClientHello disagrees with the bytes around it.
    case malformed
}

/// Reads the server name from a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3).
public enum ClientHelloParser {
    /// The largest ClientHello accepted; post-quantum key shares make them about 2 KB today.
    public static let maximumLength = 64 * 1024

    /// Whether bytes start like a TLS handshake record carrying a ClientHello: a cheap first test.
    public static func looksLikeClientHelloRecord(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 6 && bytes[0] == 0x16 && bytes[1] == 0x03 && bytes[2] <= 0x04 && bytes[5] == 0x01
    }

    /// Parses a ClientHello from the start of a TLS stream: one or more handshake records (type 22)
    /// whose fragments together hold the ClientHello.
    public static func parseRecords(_ bytes: UnsafeRawBufferPointer) throws(ClientHelloError) -> ClientHello {
        var handshake: [UInt8] = []
        var offset = 0
        var needed = 4
        while true {
            guard bytes.count - offset >= 5 else { throw .incomplete(needed: offset + 5) }
            guard bytes[offset] == 0x16, bytes[offset + 1] == 0x03 else { throw .notClientHello }
            let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
            guard length > 0, length <= 18_432 else { throw .malformed }
            let available = min(length, bytes.count - offset - 5)
            handshake.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(offset + 5)..<(offset + 5 + available)]))
            if handshake.count >= 4 {
                guard handshake[0] == 0x01 else { throw .notClientHello }
                needed = 4 + (Int(handshake[1]) << 16 | Int(handshake[2]) << 8 | Int(handshake[3]))
                guard needed <= maximumLength else { throw .malformed }
            }
            if handshake.count >= needed {
                return try handshake.withBytes { raw throws(ClientHelloError) in try parseHandshake(raw) }
            }
            if available < length {
                // The record itself is cut: its end and at least the missing handshake bytes are needed.
                throw .incomplete(needed: offset + 5 + length + max(0, needed - handshake.count - (length - available)))
            }
            offset += 5 + length
        }
    }

    /// Parses a ClientHello handshake message (type 1, 3-byte length), as carried in QUIC CRYPTO frames.
    public static func parseHandshake(_ bytes: UnsafeRawBufferPointer) throws(ClientHelloError) -> ClientHello {
        guard bytes.count >= 4 else { throw .incomplete(needed: 4) }
        guard bytes[0] == 0x01 else { throw .notClientHello }
        let length = Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard length <= maximumLength else { throw .malformed }
        guard bytes.count >= 4 + length else { throw .incomplete(needed: 4 + length) }
        var c = ByteCursor(UnsafeRawBufferPointer(rebasing: bytes[4..<(4 + length)]))
        do {
            try c.skip(2 + 32)  // legacy_version, random
            try c.skip(Int(try c.u8()))  // legacy_session_id
            try c.skip(Int(try c.u16()))  // cipher_suites
            try c.skip(Int(try c.u8()))  // legacy_compression_methods
            var hello = ClientHello(serverName: nil)
            if c.isAtEnd { return hello }  // no extensions at all
            var extensions = ByteCursor(try c.take(Int(try c.u16())))
            while !extensions.isAtEnd {
                let type = try extensions.u16()
                var body = ByteCursor(try extensions.take(Int(try extensions.u16())))
                switch type {
                case 0x0000:
                    var list = ByteCursor(try body.take(Int(try body.u16())))
                    while !list.isAtEnd {
                        let nameType = try list.u8()
                        let name = try list.take(Int(try list.u16()))
                        if nameType == 0, hello.serverName == nil { hello.serverName = hostText(name) }
                    }
                case 0x0010:
                    var list = ByteCursor(try body.take(Int(try body.u16())))
                    while !list.isAtEnd {
                        let proto = try list.take(Int(try list.u8()))
                        hello.applicationProtocols.append(hostText(proto))
                    }
                case 0xfe0d:
                    hello.encryptedClientHello = true
                default:
                    continue
                }
            }
            return hello
        } catch {
            throw .malformed
        }
    }

    /// A host name from the wire as text: ASCII lower-cased, other bytes escaped as `\DDD`.
    static func hostText(_ bytes: UnsafeRawBufferPointer) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): text.append(byte + 32)
            case 0x21...0x7e where byte != UInt8(ascii: "\\"): text.append(byte)
            default:
                text.append(UInt8(ascii: "\\"))
                text.append(UInt8(ascii: "0") + byte / 100)
                text.append(UInt8(ascii: "0") + byte / 10 % 10)
                text.append(UInt8(ascii: "0") + byte % 10)
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

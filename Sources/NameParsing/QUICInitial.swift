import Crypto
import Foundation
import _CryptoExtras

/// Why a QUIC Initial packet could not be opened.
public enum QUICInitialError: Error, Sendable, Equatable {
    /// Not a long-header Initial packet of QUIC v1 or v2.
    case notInitial
    /// The packet ends before its header or its declared length.
    case truncated
    /// Header protection removed, the payload did not decrypt with these keys (a server's Initial,
    /// or the keys of another connection ID).
    case decryptionFailed
    /// The decrypted payload holds a frame that an Initial packet may not carry.
    case malformedFrames
}

/// Opens the client Initial packets of QUIC v1 (RFC 9001) and v2 (RFC 9369), whose keys are derived
/// from public values, to read the CRYPTO frames that carry the TLS ClientHello.
public enum QUICInitial {
    /// The QUIC versions whose Initial packets can be opened.
    public enum Version: UInt32, Sendable {
        case v1 = 0x0000_0001
        case v2 = 0x6b33_43cf

        var salt: [UInt8] {
            switch self {
            case .v1: [0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a]
            case .v2: [0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9]
            }
        }

        var labelPrefix: String { self == .v1 ? "quic " : "quicv2 " }

        /// The long-header packet type bits of an Initial packet.
        var initialTypeBits: UInt8 { self == .v1 ? 0b00 : 0b01 }
    }

    /// The client's Initial packet protection keys.
    public struct Keys: Sendable, Equatable {
        public var key: [UInt8]
        public var iv: [UInt8]
        public var headerProtection: [UInt8]
    }

    /// One CRYPTO frame: its data and where it belongs in the handshake stream.
    public struct CryptoFrame: Sendable, Equatable {
        public var offset: Int
        public var data: [UInt8]
    }

    /// A client Initial packet, opened.
    public struct Packet: Sendable, Equatable {
        public var version: Version
        public var destinationConnectionID: [UInt8]
        public var packetNumber: UInt64
        public var cryptoFrames: [CryptoFrame]
    }

    /// What a long header says before anything is decrypted.
    public struct Header: Sendable, Equatable {
        public var version: Version
        public var destinationConnectionID: [UInt8]
        /// Offset of the packet number field.
        public var packetNumberOffset: Int
        /// Offset just past this packet (coalesced packets may follow).
        public var end: Int
    }

    /// Whether a datagram starts like a long-header Initial of a version we can open: a cheap first test.
    public static func looksLikeInitial(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 7, bytes[0] & 0xc0 == 0xc0 else { return false }
        let raw = UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4])
        guard let version = Version(rawValue: raw) else { return false }
        return (bytes[0] >> 4) & 0x03 == version.initialTypeBits
    }

    /// Derives the client Initial keys from the client's first destination connection ID.
    public static func clientKeys(destinationConnectionID dcid: some Sequence<UInt8>, version: Version) -> Keys {
        let initialSecret = HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: Array(dcid)), salt: version.salt)
        let client = expandLabel(initialSecret, label: "client in", length: 32)
        let prefix = version.labelPrefix
        return Keys(
            key: expandLabel(client, label: prefix + "key", length: 16),
            iv: expandLabel(client, label: prefix + "iv", length: 12),
            headerProtection: expandLabel(client, label: prefix + "hp", length: 16))
    }

    /// HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1) with an empty context.
    static func expandLabel(_ secret: some ContiguousBytes, label: String, length: Int) -> [UInt8] {
        let full = Array(("tls13 " + label).utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xff), UInt8(full.count)]
        info += full
        info.append(0)
        let key = HKDF<SHA256>.expand(pseudoRandomKey: secret, info: info, outputByteCount: length)
        return key.withUnsafeBytes { Array($0) }
    }

    /// Reads the long header of the packet starting at `offset`.
    public static func header(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) throws(QUICInitialError) -> Header {
        var c = ByteCursor(bytes, offset: offset)
        do {
            let first = try c.u8()
            guard first & 0xc0 == 0xc0 else { throw QUICInitialError.notInitial }
            guard let version = Version(rawValue: try c.u32()), (first >> 4) & 0x03 == version.initialTypeBits else {
                throw QUICInitialError.notInitial
            }
            let dcidLength = Int(try c.u8())
            guard dcidLength <= 20 else { throw QUICInitialError.notInitial }
            let dcid = Array(try c.take(dcidLength))
            let scidLength = Int(try c.u8())
            guard scidLength <= 20 else { throw QUICInitialError.notInitial }
            try c.skip(scidLength)
            let tokenLength = try c.varint()
            guard tokenLength <= UInt64(c.remaining) else { throw QUICInitialError.truncated }
            try c.skip(Int(tokenLength))
            let length = try c.varint()
            guard length >= 20, length <= UInt64(c.remaining) else { throw QUICInitialError.truncated }
            return Header(version: version, destinationConnectionID: dcid, packetNumberOffset: c.offset, end: c.offset + Int(length))
        } catch let error as QUICInitialError {
            throw error
        } catch {
            throw .truncated
        }
    }

    /// Opens the client Initial packet at `offset` with `keys` (derived from this packet's DCID when nil).
    public static func open(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0, keys: Keys? = nil) throws(QUICInitialError) -> Packet {
        let h = try header(bytes, at: offset)
        let keys = keys ?? clientKeys(destinationConnectionID: h.destinationConnectionID, version: h.version)
        let pnOffset = h.packetNumberOffset
        // The sample starts 4 bytes past the packet number's start, whatever its length (RFC 9001 §5.4.2).
        guard pnOffset + 4 + 16 <= h.end else { throw .truncated }
        var mask = Array(UnsafeRawBufferPointer(rebasing: bytes[(pnOffset + 4)..<(pnOffset + 20)]))
        do {
            try AES.permute(&mask, key: SymmetricKey(data: keys.headerProtection))
        } catch {
            throw .decryptionFailed
        }
        var headerBytes = Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<pnOffset]))
        headerBytes[0] ^= mask[0] & 0x0f
        let pnLength = Int(headerBytes[0] & 0x03) + 1
        var packetNumber: UInt64 = 0
        for index in 0..<pnLength {
            let byte = bytes[pnOffset + index] ^ mask[1 + index]
            headerBytes.append(byte)
            packetNumber = packetNumber << 8 | UInt64(byte)
        }
        let payloadStart = pnOffset + pnLength
        guard h.end - payloadStart >= 16 else { throw .truncated }
        var nonce = keys.iv
        for index in 0..<8 { nonce[11 - index] ^= UInt8(truncatingIfNeeded: packetNumber >> (8 * UInt64(index))) }
        let plaintext: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: nonce),
                ciphertext: UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<(h.end - 16)]),
                tag: UnsafeRawBufferPointer(rebasing: bytes[(h.end - 16)..<h.end]))
            let opened = try AES.GCM.open(box, using: SymmetricKey(data: keys.key), authenticating: headerBytes)
            plaintext = opened.withUnsafeBytes { Array($0) }
        } catch {
            throw .decryptionFailed
        }
        let frames = try plaintext.withBytes { raw throws(QUICInitialError) in try cryptoFrames(raw) }
        return Packet(version: h.version, destinationConnectionID: h.destinationConnectionID, packetNumber: packetNumber, cryptoFrames: frames)
    }

    /// Opens a datagram's client Initial packets (packets may be coalesced; later non-Initial ones are skipped).
    public static func openDatagram(_ bytes: UnsafeRawBufferPointer, keys: Keys? = nil) throws(QUICInitialError) -> [Packet] {
        var packets: [Packet] = []
        var offset = 0
        var firstError: QUICInitialError?
        while offset < bytes.count {
            let h: Header
            do { h = try header(bytes, at: offset) } catch { break }
            do {
                packets.append(try open(bytes, at: offset, keys: keys))
            } catch {
                if firstError == nil { firstError = error }
            }
            offset = h.end
        }
        if packets.isEmpty { throw firstError ?? .notInitial }
        return packets
    }

    /// The CRYPTO frames of a decrypted Initial payload; PADDING, PING, ACK and CONNECTION_CLOSE are skipped.
    static func cryptoFrames(_ payload: UnsafeRawBufferPointer) throws(QUICInitialError) -> [CryptoFrame] {
        var c = ByteCursor(payload)
        var frames: [CryptoFrame] = []
        do {
            while !c.isAtEnd {
                let type = try c.varint()
                switch type {
                case 0x00, 0x01:
                    continue
                case 0x02, 0x03:
                    _ = try c.varint()  // largest acknowledged
                    _ = try c.varint()  // delay
                    let ranges = try c.varint()
                    _ = try c.varint()  // first range
                    guard ranges <= UInt64(c.remaining) else { throw QUICInitialError.malformedFrames }
                    for _ in 0..<ranges {
                        _ = try c.varint()
                        _ = try c.varint()
                    }
                    if type == 0x03 {
                        _ = try c.varint()
                        _ = try c.varint()
                        _ = try c.varint()
                    }
                case 0x06:
                    let offset = try c.varint()
                    let length = try c.varint()
                    guard offset <= 1 << 20, length <= UInt64(c.remaining) else { throw QUICInitialError.malformedFrames }
                    frames.append(CryptoFrame(offset: Int(offset), data: Array(try c.take(Int(length)))))
                case 0x1c, 0x1d:
                    _ = try c.varint()  // error code
                    if type == 0x1c { _ = try c.varint() }  // frame type
                    let reason = try c.varint()
                    guard reason <= UInt64(c.remaining) else { throw QUICInitialError.malformedFrames }
                    try c.skip(Int(reason))
                default:
                    throw QUICInitialError.malformedFrames
                }
            }
        } catch let error as QUICInitialError {
            throw error
        } catch {
            throw .malformedFrames
        }
        return frames
    }
}

/// Puts CRYPTO frame data back in order, in a bounded buffer, until the ClientHello is whole.
public struct CryptoStreamAssembler: Sendable {
    /// The most bytes held.
    public let capacity: Int
    private(set) var buffer: [UInt8] = []
    private var filled: [Range<Int>] = []

    public init(capacity: Int = 16 * 1024) {
        self.capacity = capacity
    }

    /// Adds data at its stream offset; data beyond the capacity is dropped.
    public mutating func add(offset: Int, data: some Collection<UInt8>) {
        guard offset >= 0, offset < capacity, !data.isEmpty else { return }
        let end = min(capacity, offset + data.count)
        if buffer.count < end { buffer += repeatElement(0, count: end - buffer.count) }
        var index = offset
        for byte in data.prefix(end - offset) {
            buffer[index] = byte
            index += 1
        }
        filled.append(offset..<end)
        filled.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for range in filled {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        filled = merged
    }

    /// How many bytes from offset 0 are present without a gap.
    public var contiguousCount: Int {
        guard let first = filled.first, first.lowerBound == 0 else { return 0 }
        return first.upperBound
    }

    /// The ClientHello once its bytes are all present; nil while some are missing.
    public func clientHello() throws(ClientHelloError) -> ClientHello? {
        let count = contiguousCount
        guard count >= 4 else { return nil }
        do {
            return try buffer.withBytes { raw throws(ClientHelloError) in
                try ClientHelloParser.parseHandshake(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
            }
        } catch .incomplete {
            if count >= capacity { throw .malformed }
            return nil
        } catch {
            throw error
        }
    }
}

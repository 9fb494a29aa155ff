/// A bounds-checked reader over bytes from the wire: every read that would pass the end throws.
///
/// Holds a view of memory owned by the caller; use it only inside the caller's `withUnsafeBytes`.
struct ByteCursor {
    /// Raised when a read passes the end of the bytes.
    struct EndOfInput: Error, Equatable {}

    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { max(0, bytes.count - offset) }
    var isAtEnd: Bool { offset >= bytes.count }

    mutating func u8() throws(EndOfInput) -> UInt8 {
        guard offset >= 0, offset < bytes.count else { throw EndOfInput() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(EndOfInput) -> UInt16 {
        guard offset >= 0, offset + 2 <= bytes.count else { throw EndOfInput() }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u24() throws(EndOfInput) -> Int {
        guard offset >= 0, offset + 3 <= bytes.count else { throw EndOfInput() }
        defer { offset += 3 }
        return Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
    }

    mutating func u32() throws(EndOfInput) -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else { throw EndOfInput() }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    /// Reads a QUIC variable-length integer (RFC 9000 §16).
    mutating func varint() throws(EndOfInput) -> UInt64 {
        let first = try u8()
        let length = 1 << Int(first >> 6)
        var value = UInt64(first & 0x3f)
        for _ in 1..<length { value = value << 8 | UInt64(try u8()) }
        return value
    }

    /// The next `count` bytes as a view; the cursor moves past them.
    mutating func take(_ count: Int) throws(EndOfInput) -> UnsafeRawBufferPointer {
        guard count >= 0, offset >= 0, count <= bytes.count - offset else { throw EndOfInput() }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func skip(_ count: Int) throws(EndOfInput) {
        guard count >= 0, offset >= 0, count <= bytes.count - offset else { throw EndOfInput() }
        offset += count
    }
}

extension Array where Element == UInt8 {
    /// Runs a typed-throwing body over the array's bytes, keeping the error's type.
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeBytes { raw in Result { () throws(E) -> R in try body(raw) } }
        return try result.get()
    }
}

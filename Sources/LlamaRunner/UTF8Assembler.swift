/// Joins token pieces into text without splitting a character: a token can end in the middle of
/// a multi-byte UTF-8 sequence, and the rest arrives with the next token.
struct UTF8Assembler {
    private var pending: [UInt8] = []

    /// Adds bytes and returns the text that is complete so far.
    mutating func append(_ bytes: some Sequence<UInt8>) -> String {
        pending.append(contentsOf: bytes)
        let complete = completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[0..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is left, with invalid bytes replaced.
    mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of `bytes` without a trailing, still incomplete sequence.
    private func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // Look back at most 3 bytes for the lead byte of the last sequence.
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0, continuation < 3, bytes[i] & 0xC0 == 0x80 {
            i -= 1
            continuation += 1
        }
        guard i >= 0 else { return bytes.count }
        let lead = bytes[i]
        let needed: Int
        if lead & 0x80 == 0 { needed = 0 }
        else if lead & 0xE0 == 0xC0 { needed = 1 }
        else if lead & 0xF0 == 0xE0 { needed = 2 }
        else if lead & 0xF8 == 0xF0 { needed = 3 }
        else { return bytes.count }  // not a lead byte: invalid, let decoding replace it
        return continuation < needed ? i : bytes.count
    }
}

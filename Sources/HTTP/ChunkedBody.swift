/// The `Transfer-Encoding: chunked` framing of a body: hexadecimal sizes, each before its bytes,
/// and a last chunk of size 0 followed by optional trailer lines.
public enum ChunkedBody {
    /// The body decoded from the chunked bytes received so far, and whether the last chunk has
    /// arrived. Throws when a size line is not hexadecimal or a chunk lacks its CRLF.
    public static func decode(_ bytes: [UInt8]) throws(HTTPResponse.ParseError) -> (body: [UInt8], finished: Bool) {
        var body: [UInt8] = []
        var offset = 0
        while let lineEnd = lineEnd(in: bytes, from: offset) {
            let sizeText = String(decoding: bytes[offset..<lineEnd].prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
            guard let size = Int(sizeText[...].trimmingWhitespace(), radix: 16), size >= 0 else { throw .malformedChunk }
            let start = lineEnd + 2
            if size == 0 { return (body, true) }
            // A size as large as Int allows must not overflow the bounds check.
            guard size <= bytes.count - start else { return (body, false) }
            let stop = start + size
            guard bytes.count >= stop + 2 else { return (body, false) }
            guard bytes[stop] == 13, bytes[stop + 1] == 10 else { throw .malformedChunk }
            body += bytes[start..<stop]
            offset = stop + 2
        }
        return (body, false)
    }

    /// `bytes` as one chunk and the last chunk.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return Array("0\r\n\r\n".utf8) }
        return Array("\(String(bytes.count, radix: 16))\r\n".utf8) + bytes + Array("\r\n0\r\n\r\n".utf8)
    }

    private static func lineEnd(in bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}

/// Reads the Host of an HTTP/1 request from the first bytes of a request.
public enum HTTPRequestHost {
    static let methods: [[UInt8]] = ["GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "]
        .map { Array($0.utf8) }

    /// Whether bytes start with an HTTP/1 method and a space: a cheap first test.
    public static func looksLikeRequest(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        let b0 = bytes[0]
        guard b0 >= UInt8(ascii: "C"), b0 <= UInt8(ascii: "T") else { return false }
        for method in methods where bytes.count >= method.count {
            var equal = true
            for index in 0..<method.count where bytes[index] != method[index] {
                equal = false
                break
            }
            if equal { return true }
        }
        return false
    }

    /// The host (lower-cased, without port) named by the request's Host header, or by the target of
    /// a CONNECT or absolute-form request line; nil when the bytes hold none.
    public static func host(in bytes: UnsafeRawBufferPointer) -> String? {
        guard looksLikeRequest(bytes) else { return nil }
        let lines = splitLines(bytes, limit: 8192)
        guard let requestLine = lines.first else { return nil }
        let parts = requestLine.split(separator: UInt8(ascii: " "))
        if parts.count >= 2 {
            let method = String(decoding: parts[0], as: UTF8.self)
            var target = Array(parts[1])
            if method == "CONNECT" { return cleanHost(target[...]) }
            for scheme in ["http://", "https://"] where target.starts(with: scheme.utf8) {
                target.removeFirst(scheme.utf8.count)
                let authority = target.prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") }
                if let host = cleanHost(authority) { return host }
            }
        }
        for line in lines.dropFirst() {
            if line.isEmpty { break }  // end of the headers
            guard line.count > 5 else { continue }
            let name = line.prefix(5).map { $0 | 0x20 }
            if name == Array("host:".utf8) {
                return cleanHost(line.dropFirst(5))
            }
        }
        return nil
    }

    static func splitLines(_ bytes: UnsafeRawBufferPointer, limit: Int) -> [ArraySlice<UInt8>] {
        let all = Array(bytes.prefix(limit))
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for index in all.indices where all[index] == UInt8(ascii: "\n") {
            var end = index
            if end > start, all[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            lines.append(all[start..<end])
            start = index + 1
        }
        return lines
    }

    /// Trims blanks, drops userinfo and port (keeping bracketed IPv6 whole), lower-cases, checks the characters.
    static func cleanHost(_ raw: ArraySlice<UInt8>) -> String? {
        var value = Array(raw.drop { $0 == 0x20 || $0 == 0x09 })
        while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
        if let at = value.lastIndex(of: UInt8(ascii: "@")) { value.removeFirst(at + 1) }
        if value.first == UInt8(ascii: "[") {
            guard let close = value.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            value = Array(value[1..<close])
        } else if let colon = value.firstIndex(of: UInt8(ascii: ":")) {
            value = Array(value[..<colon])
        }
        guard !value.isEmpty, value.count <= 255 else { return nil }
        for byte in value {
            let allowed = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
            guard allowed else { return nil }
        }
        return String(decoding: value.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

/// Header lines of a request or a response head, parsed the one way both are: `Name: value`, names
/// in lower case, a repeated name's values joined with `, `, spaces and tabs around a value dropped.
enum HTTPFields {
    /// The fields of `lines` (each without its CRLF; empty lines are skipped) in order, names as
    /// written; nil when a line has no colon or an empty name.
    static func parse(_ lines: some Sequence<Substring>) -> [HTTPResponse.Field]? {
        var fields: [HTTPResponse.Field] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].trimmingWhitespace()
            guard !name.isEmpty else { return nil }
            fields.append(HTTPResponse.Field(name, line[line.index(after: colon)...].trimmingWhitespace()))
        }
        return fields
    }

    /// The fields by lower-case name, a repeated name's values joined with `, `.
    static func byName(_ fields: [HTTPResponse.Field]) -> [String: String] {
        var named: [String: String] = [:]
        for field in fields {
            let name = field.name.lowercased()
            named[name] = named[name].map { "\($0), \(field.value)" } ?? field.value
        }
        return named
    }

    /// Where the blank line that ends a head starts in `bytes`, searching from `start`; nil while
    /// it has not arrived. A caller that adds bytes searches again from three before the new ones,
    /// so a head sent a byte at a time costs linear time, not quadratic.
    static func headEnd(in bytes: [UInt8], from start: Int = 0) -> Int? {
        let needle: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for i in max(0, start)...(bytes.count - needle.count) where bytes[i] == 13 {
            if bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
        }
        return nil
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return String(s)
    }
}

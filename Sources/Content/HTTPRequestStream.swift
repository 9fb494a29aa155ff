/// An incremental HTTP/1.x request parser for one direction of one TCP connection (client to server).
///
/// Fed the connection's bytes in order, in segments cut anywhere, it returns each request once its
/// body is complete: pipelined requests, `Content-Length` and chunked bodies (extensions and trailers
/// ignored), and `Expect: 100-continue` (if the bytes after such a head start a new request line, the
/// server refused the body and the request is delivered without one). Everything is bounded: a head
/// over `headerLimit` fails the stream, a body over `bodyLimit` is delivered truncated and the rest is
/// skipped and counted. Bytes that are not HTTP/1 (TLS, HTTP/2, garbage) fail the stream, which then
/// counts and ignores the rest. After a request asking to switch protocols (`Upgrade`, `CONNECT`) the
/// stream stops parsing unless the next byte could start a request line (the server may refuse).
///
/// Parsing here, rather than with LlamaServer's `HTTPRequest`, keeps Content free of dependencies and
/// handles what a server never sees from a capture: segment loss and resynchronisation.
public struct HTTPRequestStream: Sendable {
    /// One complete request.
    public struct Request: Sendable, Equatable {
        /// The method, as sent (`POST`).
        public var method: String
        /// The target's path, without query or fragment (`/v1/chat/completions`); from an absolute
        /// target, the path after the authority.
        public var path: String
        /// The `Host` header, or the authority of an absolute target.
        public var host: String?
        /// The `Content-Type` header.
        public var contentType: String?
        /// The `Content-Encoding` header.
        public var contentEncoding: String?
        /// The body, at most `bodyLimit` bytes of it, de-chunked.
        public var body: [UInt8]
        /// Whether the body was longer than `bodyLimit` and was cut.
        public var truncated: Bool
    }

    /// Why a stream stopped parsing for good.
    public enum Failure: Error, Equatable, Sendable {
        /// The bytes do not start a request line.
        case notHTTP
        /// A request line with a version other than HTTP/1.x.
        case unsupportedVersion
        /// A request head longer than `headerLimit`.
        case headerTooLarge
        /// A `Content-Length` that is not a number, or that disagrees with another one, or a
        /// `Transfer-Encoding` that does not end in chunked.
        case badFraming
        /// A chunk-size line or chunk end that is not well formed.
        case badChunk
        /// After a gap, no request line was found within the resynchronisation budget.
        case lostSync
    }

    /// Where the stream is.
    public enum State: Sendable, Equatable {
        /// Parsing requests.
        case active
        /// Switched protocols; the rest of the stream is ignored.
        case upgraded
        /// Gave up; the rest of the stream is ignored.
        case failed(Failure)
    }

    /// What the stream has seen and what it left out.
    public struct Counters: Sendable, Equatable {
        /// Requests delivered.
        public var requests = 0
        /// Requests given up because bytes were missing under them.
        public var abandonedRequests = 0
        /// Body bytes past `bodyLimit`, not kept.
        public var skippedBytes = 0
        /// Bytes ignored after the stream failed or was upgraded, or while looking for a request line.
        public var ignoredBytes = 0
        /// Bytes reported missing through `gap(_:)`.
        public var gapBytes = 0
        /// Requests that switched protocols.
        public var upgrades = 0
    }

    /// What the next bytes are expected to be.
    private enum Phase: Sendable, Equatable {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers
        case continueCheck(chunked: Bool, length: Int)
        case upgradePending
        case discard(remaining: Int)
        case resync(scanned: Int)
        case stopped(State)
    }

    /// The longest request head, in bytes.
    public let headerLimit: Int
    /// The most body bytes kept per request.
    public let bodyLimit: Int
    /// What the stream has seen and what it left out.
    public private(set) var counters = Counters()

    private var phase = Phase.head
    private var buffer: [UInt8] = []
    private var lineStart = 0
    private var methodEnded = false
    private var current: Request?
    private var switchesProtocol = false

    private static let lineLimit = 8192

    /// A stream at the start of a connection.
    public init(headerLimit: Int = 64 * 1024, bodyLimit: Int = 16 * 1024 * 1024) {
        self.headerLimit = min(max(256, headerLimit), 1 << 30)
        self.bodyLimit = min(max(0, bodyLimit), 1 << 40)
    }

    /// Where the stream is.
    public var state: State {
        if case .stopped(let state) = phase { return state }
        return .active
    }

    /// Feeds the next bytes of the connection and returns the requests they complete.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Request] {
        var out: [Request] = []
        let done: Void? = bytes.withContiguousStorageIfAvailable { process($0, into: &out) }
        if done == nil {
            Array(bytes).withUnsafeBufferPointer { process($0, into: &out) }
        }
        return out
    }

    /// Records that `length` bytes of the connection were lost: the request under them is given up
    /// and the stream looks for the next request line (or skips exactly the rest of a body of known
    /// length, which keeps it in step).
    public mutating func gap(_ length: Int) {
        let length = max(0, length)
        counters.gapBytes += length
        switch phase {
        case .stopped:
            counters.ignoredBytes += length
        case .head:
            if !buffer.isEmpty { counters.abandonedRequests += 1 }
            startResync()
        case .body(let remaining):
            counters.abandonedRequests += 1
            current = nil
            resume(afterSkipping: length, of: remaining)
        case .discard(let remaining):
            resume(afterSkipping: length, of: remaining)
        case .resync(let scanned):
            buffer.removeAll(keepingCapacity: true)
            phase = .resync(scanned: scanned)
        case .chunkSize, .chunkData, .chunkEnd, .trailers, .continueCheck, .upgradePending:
            if current != nil { counters.abandonedRequests += 1 }
            startResync()
        }
    }

    /// Continues after a gap inside a body of known length: in step if the gap ended inside it.
    private mutating func resume(afterSkipping length: Int, of remaining: Int) {
        if length < remaining {
            phase = .discard(remaining: remaining - length)
        } else if length == remaining {
            resetHead()
        } else {
            startResync()
        }
    }

    // MARK: Driving

    private mutating func process(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Request]) {
        var i = 0
        while i < bytes.count {
            switch phase {
            case .stopped:
                counters.ignoredBytes += bytes.count - i
                return
            case .head:
                i = head(bytes, from: i, into: &out)
            case .body(let remaining):
                let n = min(remaining, bytes.count - i)
                appendBody(UnsafeBufferPointer(rebasing: bytes[i..<(i + n)]))
                i += n
                if n == remaining { finishRequest(into: &out) } else { phase = .body(remaining: remaining - n) }
            case .chunkSize:
                i = chunkSize(bytes, from: i)
            case .chunkData(let remaining):
                let n = min(remaining, bytes.count - i)
                appendBody(UnsafeBufferPointer(rebasing: bytes[i..<(i + n)]))
                i += n
                phase = n == remaining ? .chunkEnd : .chunkData(remaining: remaining - n)
            case .chunkEnd:
                i = chunkEnd(bytes, from: i)
            case .trailers:
                i = trailers(bytes, from: i, into: &out)
            case .continueCheck(let chunked, let length):
                i = continueCheck(bytes, from: i, chunked: chunked, length: length, into: &out)
            case .upgradePending:
                if Self.isMethodByte(bytes[i]) {
                    resetHead()
                } else {
                    phase = .stopped(.upgraded)
                }
            case .discard(let remaining):
                let n = min(remaining, bytes.count - i)
                i += n
                counters.ignoredBytes += n
                if n == remaining { resetHead() } else { phase = .discard(remaining: remaining - n) }
            case .resync(let scanned):
                i = resync(bytes, from: i, scanned: scanned)
            }
        }
    }

    /// Stops the stream for good, counting what it holds and what is left unread as ignored.
    private mutating func fail(_ failure: Failure, unread: Int) {
        counters.ignoredBytes += unread + buffer.count
        buffer = []
        current = nil
        phase = .stopped(.failed(failure))
    }

    private mutating func resetHead() {
        phase = .head
        buffer.removeAll(keepingCapacity: true)
        lineStart = 0
        methodEnded = false
        current = nil
        switchesProtocol = false
    }

    private mutating func startResync() {
        resetHead()
        phase = .resync(scanned: 0)
    }

    // MARK: Head

    /// Accumulates a request head, validating the request line as soon as it ends; returns the next index.
    private mutating func head(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, into out: inout [Request]) -> Int {
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if buffer.isEmpty && (b == 0x0D || b == 0x0A) {
                // Empty lines between pipelined requests are allowed.
                i += 1
                continue
            }
            if !methodEnded {
                if b == 0x20 && !buffer.isEmpty {
                    methodEnded = true
                } else if !Self.isMethodByte(b) || buffer.count >= 24 {
                    fail(.notHTTP, unread: bytes.count - i)
                    return bytes.count
                }
            }
            buffer.append(b)
            i += 1
            if b == 0x0A {
                let lineLength = buffer.count - lineStart
                if lineStart == 0 {
                    switch Self.parseRequestLine(buffer[...]) {
                    case .success: break
                    case .failure(let failure):
                        fail(failure, unread: bytes.count - i)
                        return bytes.count
                    }
                } else if lineLength <= 2 && (lineLength == 1 || buffer[lineStart] == 0x0D) {
                    beginRequest(into: &out)
                    return i
                }
                lineStart = buffer.count
            }
            if buffer.count > headerLimit {
                fail(.headerTooLarge, unread: bytes.count - i)
                return bytes.count
            }
        }
        return i
    }

    /// Parses the complete head in `buffer` and moves to the body.
    private mutating func beginRequest(into out: inout [Request]) {
        let head = buffer
        buffer.removeAll(keepingCapacity: true)
        lineStart = 0
        methodEnded = false
        var lines = Self.lines(head[...])
        guard let first = lines.first, case .success(let requestLine) = Self.parseRequestLine(first) else {
            fail(.notHTTP, unread: 0)
            return
        }
        lines.removeFirst()
        var request = Request(
            method: requestLine.method, path: requestLine.path, host: requestLine.authority,
            contentType: nil, contentEncoding: nil, body: [], truncated: false)
        var contentLength: Int?
        var chunked = false
        var hasTransferEncoding = false
        var expectContinue = false
        var upgrade = false
        var connectionUpgrade = false
        for line in lines {
            guard let colon = line.firstIndex(of: 0x3A) else { continue }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            let value = Self.trimmed(line[(colon + 1)...])
            switch name {
            case "host":
                request.host = String(decoding: value, as: UTF8.self)
            case "content-type":
                request.contentType = String(decoding: value, as: UTF8.self)
            case "content-encoding":
                request.contentEncoding = String(decoding: value, as: UTF8.self)
            case "content-length":
                for part in value.split(separator: 0x2C) {
                    guard let length = Self.decimal(Self.trimmed(part)), contentLength == nil || contentLength == length else {
                        fail(.badFraming, unread: 0)
                        return
                    }
                    contentLength = length
                }
            case "transfer-encoding":
                hasTransferEncoding = true
                let codings = String(decoding: value, as: UTF8.self).lowercased().split(separator: ",")
                chunked = codings.last.map { ASCII.trimmed($0) == "chunked" } ?? false
            case "expect":
                expectContinue = String(decoding: value, as: UTF8.self).lowercased() == "100-continue"
            case "upgrade":
                upgrade = !value.isEmpty
            case "connection":
                connectionUpgrade = String(decoding: value, as: UTF8.self).lowercased().contains("upgrade")
            default:
                break
            }
        }
        if hasTransferEncoding && !chunked {
            fail(.badFraming, unread: 0)
            return
        }
        current = request
        switchesProtocol = (upgrade && connectionUpgrade) || request.method == "CONNECT"
        let length = chunked ? 0 : (contentLength ?? 0)
        if expectContinue && (chunked || length > 0) {
            phase = .continueCheck(chunked: chunked, length: length)
        } else if chunked {
            phase = .chunkSize
        } else if length > 0 {
            phase = .body(remaining: length)
        } else {
            finishRequest(into: &out)
        }
    }

    private mutating func finishRequest(into out: inout [Request]) {
        if let request = current {
            out.append(request)
            counters.requests += 1
        }
        let upgrading = switchesProtocol
        resetHead()
        if upgrading {
            counters.upgrades += 1
            phase = .upgradePending
        }
    }

    private mutating func appendBody(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard current != nil else { return }
        let room = max(0, bodyLimit - (current?.body.count ?? 0))
        let kept = min(room, bytes.count)
        if kept > 0 { current?.body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0..<kept])) }
        if kept < bytes.count {
            counters.skippedBytes += bytes.count - kept
            current?.truncated = true
        }
    }

    // MARK: Expect: 100-continue

    private static let methodsAfterRefusal: [[UInt8]] = ["GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH "].map { Array($0.utf8) }

    private mutating func continueCheck(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, chunked: Bool, length: Int, into out: inout [Request]
    ) -> Int {
        var i = start
        while i < bytes.count {
            buffer.append(bytes[i])
            i += 1
            let prefix = buffer
            let candidates = Self.methodsAfterRefusal.filter { m in
                m.count >= prefix.count ? Array(m[0..<prefix.count]) == prefix : Array(prefix[0..<m.count]) == m
            }
            if candidates.contains(where: { $0.count == prefix.count }) {
                // The server refused the body: what follows is the next request.
                finishRequest(into: &out)
                var sub: [Request] = []
                prefix.withUnsafeBufferPointer { process($0, into: &sub) }
                out += sub
                return i
            }
            if candidates.isEmpty {
                buffer.removeAll(keepingCapacity: true)
                phase = chunked ? .chunkSize : .body(remaining: length)
                var sub: [Request] = []
                prefix.withUnsafeBufferPointer { process($0, into: &sub) }
                out += sub
                return i
            }
        }
        return i
    }

    // MARK: Chunked

    /// Accumulates one line into `buffer`; returns the index after it and whether it is complete.
    private mutating func line(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> (next: Int, complete: Bool, overflow: Bool) {
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            buffer.append(b)
            if b == 0x0A { return (i, true, false) }
            if buffer.count > limit { return (i, false, true) }
        }
        return (i, false, false)
    }

    private mutating func chunkSize(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let (next, complete, overflow) = line(bytes, from: start, limit: Self.lineLimit)
        if overflow {
            fail(.badChunk, unread: bytes.count - next)
            return bytes.count
        }
        guard complete else { return next }
        var size = 0
        var digits = 0
        for b in buffer {
            guard let v = ASCII.hexValue(b) else { break }
            size = size << 4 | Int(v)
            digits += 1
            if digits > 15 { break }
        }
        let rest = buffer.dropFirst(digits)
        let restOK = rest.first.map { $0 == 0x3B || $0 == 0x0D || $0 == 0x0A || $0 == 0x20 || $0 == 0x09 } ?? false
        buffer.removeAll(keepingCapacity: true)
        guard digits > 0, digits <= 15, restOK else {
            fail(.badChunk, unread: bytes.count - next)
            return bytes.count
        }
        phase = size == 0 ? .trailers : .chunkData(remaining: size)
        return next
    }

    private mutating func chunkEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let (next, complete, overflow) = line(bytes, from: start, limit: 2)
        if overflow {
            fail(.badChunk, unread: bytes.count - next)
            return bytes.count
        }
        guard complete else { return next }
        let empty = buffer.count == 1 || (buffer.count == 2 && buffer[0] == 0x0D)
        buffer.removeAll(keepingCapacity: true)
        guard empty else {
            fail(.badChunk, unread: bytes.count - next)
            return bytes.count
        }
        phase = .chunkSize
        return next
    }

    private mutating func trailers(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, into out: inout [Request]) -> Int {
        var i = start
        while i < bytes.count {
            let (next, complete, overflow) = line(bytes, from: i, limit: headerLimit)
            i = next
            if overflow {
                fail(.headerTooLarge, unread: bytes.count - next)
                return bytes.count
            }
            guard complete else { return i }
            let empty = buffer.count == 1 || (buffer.count == 2 && buffer[0] == 0x0D)
            buffer.removeAll(keepingCapacity: true)
            if empty {
                finishRequest(into: &out)
                return i
            }
        }
        return i
    }

    // MARK: Resynchronisation

    private mutating func resync(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, scanned: Int) -> Int {
        var i = start
        var scanned = scanned
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            scanned += 1
            counters.ignoredBytes += 1
            if b == 0x0A {
                buffer.append(b)
                if let start = Self.requestLineStart(in: buffer) {
                    let line = Array(buffer[start...])
                    counters.ignoredBytes -= line.count
                    resetHead()
                    var sub: [Request] = []
                    _ = line.withUnsafeBufferPointer { head($0, from: 0, into: &sub) }
                    return i
                }
                buffer.removeAll(keepingCapacity: true)
            } else if buffer.count < Self.lineLimit {
                buffer.append(b)
            }
            if scanned > bodyLimit + headerLimit {
                fail(.lostSync, unread: bytes.count - i)
                return bytes.count
            }
        }
        phase = .resync(scanned: scanned)
        return i
    }

    private static let resyncMethods: [[UInt8]] = ["POST ", "GET ", "PUT ", "PATCH ", "DELETE ", "HEAD ", "OPTIONS "].map { Array($0.utf8) }

    /// Where a request line starts in a line: at its start, or after the unterminated end of the
    /// previous body (pipelined bodies need not end in a newline).
    private static func requestLineStart(in line: [UInt8]) -> Int? {
        if case .success = parseRequestLine(line[...]) { return 0 }
        var i = 1
        while i < line.count {
            if isMethodByte(line[i]) && !isMethodByte(line[i - 1]),
               resyncMethods.contains(where: { m in line.count - i >= m.count && line[i..<(i + m.count)].elementsEqual(m) }),
               case .success = parseRequestLine(line[i...]) {
                return i
            }
            i += 1
        }
        return nil
    }

    // MARK: Lexing

    /// The parts of a request line the stream reports.
    private struct RequestLine {
        var method: String
        var path: String
        var authority: String?
    }

    /// Parses `METHOD SP target SP HTTP/1.x` (CRLF or LF included or not).
    private static func parseRequestLine(_ line: ArraySlice<UInt8>) -> Result<RequestLine, Failure> {
        var line = line
        while let last = line.last, last == 0x0A || last == 0x0D { line.removeLast() }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0].allSatisfy(isMethodByte), parts[0].count <= 24 else { return .failure(.notHTTP) }
        let version = parts[2]
        guard version.starts(with: Array("HTTP/".utf8)) else { return .failure(.notHTTP) }
        guard version.count == 8, version.starts(with: Array("HTTP/1.".utf8)) else { return .failure(.unsupportedVersion) }
        let method = String(decoding: parts[0], as: UTF8.self)
        var target = parts[1]
        var authority: String?
        if let schemeEnd = findSubsequence(target, Array("://".utf8)) {
            let afterScheme = target[(schemeEnd + 3)...]
            let slash = afterScheme.firstIndex(of: 0x2F) ?? afterScheme.endIndex
            authority = String(decoding: afterScheme[afterScheme.startIndex..<slash], as: UTF8.self)
            target = afterScheme[slash...]
            if target.isEmpty { target = ArraySlice([0x2F]) }
        }
        let end = target.firstIndex(where: { $0 == 0x3F || $0 == 0x23 }) ?? target.endIndex
        let path = String(decoding: target[target.startIndex..<end], as: UTF8.self)
        return .success(RequestLine(method: method, path: path, authority: authority))
    }

    private static func findSubsequence(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = haystack.startIndex
        while i + needle.count <= haystack.endIndex {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// The non-empty lines of a head, without line ends.
    private static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        head.split(separator: 0x0A, omittingEmptySubsequences: true).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }.filter { !$0.isEmpty }
    }

    private static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, f == 0x20 || f == 0x09 { s.removeFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 || l == 0x0D { s.removeLast() }
        return s
    }

    /// A Content-Length value; nil if not all digits or absurdly long.
    private static func decimal(_ s: ArraySlice<UInt8>) -> Int? {
        guard !s.isEmpty, s.count <= 15 else { return nil }
        var value = 0
        for b in s {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            value = value * 10 + Int(b - 0x30)
        }
        return value
    }

    /// A byte a method token may hold (upper-case letters, `-`, `_`).
    private static func isMethodByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || b == 0x2D || b == 0x5F
    }
}

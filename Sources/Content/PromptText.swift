/// The texts a person wrote, pulled out of a runtime API request body.
///
/// Kept: chat `messages[].content` (a string, or parts of type `text`/`input_text`) for every role but
/// `assistant` (the model's own words replayed as history), including `system`, `developer` and
/// `tool` content; `prompt` (a string or an array of strings; token arrays are skipped); `system`,
/// `instructions`, `suffix`; `input` (a string, strings, or Responses items with `content` parts or a
/// function call's `output`); llama.cpp `input_prefix`, `input_suffix` and `input_extra[].text`.
/// The same fields are looked for whatever the endpoint: each API uses its own subset.
///
/// The reader is a bounded, iterative JSON scanner that decodes only the strings it keeps, so a
/// large body costs one pass and nesting deeper than `maximumDepth` throws instead of recursing.
/// A body cut short (a truncated capture) yields the texts finished before the cut.
public enum PromptText {
    /// Why no texts could be taken from a body.
    public enum ExtractionError: Error, Equatable, Sendable {
        /// The body is compressed with the named content coding; the caller counts it as skipped.
        case encoded(String)
        /// The body does not start with a JSON object or array.
        case notJSON
        /// The JSON is broken at this byte offset.
        case malformed(offset: Int)
        /// The JSON nests deeper than `maximumDepth`.
        case tooDeep
    }

    /// The deepest nesting read; real request bodies stay far below it.
    public static let maximumDepth = 512

    /// The person's texts in the body of a request to `endpoint`, in document order of their
    /// messages. Invalid UTF-8 is repaired with U+FFFD.
    public static func texts(
        endpoint: RuntimeEndpoint, body: some Collection<UInt8>, contentEncoding: String? = nil
    ) throws(ExtractionError) -> [String] {
        if let coding = contentEncoding {
            let name = ASCII.trimmed(Substring(coding)).lowercased()
            if !name.isEmpty && name != "identity" { throw .encoded(name) }
        }
        let result: Result<[String], ExtractionError>
        if let done = body.withContiguousStorageIfAvailable({ bytes in
            var reader = JSONTextReader(bytes: bytes)
            return reader.read()
        }) {
            result = done
        } else {
            result = Array(body).withUnsafeBufferPointer { bytes in
                var reader = JSONTextReader(bytes: bytes)
                return reader.read()
            }
        }
        return try result.get()
    }
}

/// The iterative JSON scanner behind `PromptText`.
private struct JSONTextReader {
    /// What a container is, as far as the texts are concerned.
    private enum Context { case root, promptList, messages, message, parts, part, extras, extra, other }

    /// The object keys that matter; every other key is `.other`.
    private enum Key {
        case prompt, system, instructions, suffix, input, messages, content, role, type, text, output
        case inputPrefix, inputSuffix, inputExtra, other

        init(_ raw: [UInt8]) {
            switch String(decoding: raw, as: UTF8.self) {
            case "prompt": self = .prompt
            case "system": self = .system
            case "instructions": self = .instructions
            case "suffix": self = .suffix
            case "input": self = .input
            case "messages": self = .messages
            case "content": self = .content
            case "role": self = .role
            case "type": self = .type
            case "text": self = .text
            case "output": self = .output
            case "input_prefix": self = .inputPrefix
            case "input_suffix": self = .inputSuffix
            case "input_extra": self = .inputExtra
            default: self = .other
            }
        }
    }

    /// One open container, with what a message or content part collected so far.
    private struct Frame {
        var context: Context
        var isObject: Bool
        var key: Key = .other
        var role: String?
        var type: String?
        var texts: [String] = []
    }

    /// The next token the grammar allows.
    private enum Expect { case value, valueOrEnd, keyOrEnd, key, colon, commaOrEnd }

    let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var stack: [Frame] = []
    private var out: [String] = []

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Reads the whole body once.
    mutating func read() -> Result<[String], PromptText.ExtractionError> {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == 0x7B || bytes[position] == 0x5B else { return .failure(.notJSON) }
        var expect = Expect.value
        while true {
            skipWhitespace()
            guard position < bytes.count else {
                // Cut short: keep what the open messages already hold.
                while !stack.isEmpty { close() }
                return .success(out)
            }
            let b = bytes[position]
            switch expect {
            case .value, .valueOrEnd:
                if expect == .valueOrEnd && b == 0x5D {
                    position += 1
                    close()
                    expect = .commaOrEnd
                    if stack.isEmpty { return .success(out) }
                    continue
                }
                switch b {
                case 0x7B, 0x5B:
                    guard stack.count < PromptText.maximumDepth else { return .failure(.tooDeep) }
                    position += 1
                    let isObject = b == 0x7B
                    stack.append(Frame(context: childContext(isObject: isObject), isObject: isObject))
                    expect = isObject ? .keyOrEnd : .valueOrEnd
                    continue
                case 0x22:
                    position += 1
                    if wantsString() {
                        guard let s = readString() else { return truncated() }
                        stringValue(String(decoding: s, as: UTF8.self))
                    } else {
                        guard skipString() else { return truncated() }
                    }
                case 0x2D, 0x30...0x39:
                    while position < bytes.count, Self.isNumberByte(bytes[position]) { position += 1 }
                case 0x74, 0x66, 0x6E:  // true false null
                    while position < bytes.count, bytes[position] >= 0x61 && bytes[position] <= 0x7A { position += 1 }
                default:
                    return .failure(.malformed(offset: position))
                }
                if stack.isEmpty { return .success(out) }
                expect = .commaOrEnd
            case .keyOrEnd, .key:
                if expect == .keyOrEnd && b == 0x7D {
                    position += 1
                    close()
                    expect = .commaOrEnd
                    if stack.isEmpty { return .success(out) }
                    continue
                }
                guard b == 0x22 else { return .failure(.malformed(offset: position)) }
                position += 1
                guard let raw = readString(limit: 32) else { return truncated() }
                stack[stack.count - 1].key = Key(raw)
                expect = .colon
            case .colon:
                guard b == 0x3A else { return .failure(.malformed(offset: position)) }
                position += 1
                expect = .value
            case .commaOrEnd:
                guard let top = stack.last else { return .success(out) }
                if b == 0x2C {
                    position += 1
                    expect = top.isObject ? .key : .value
                } else if (b == 0x7D && top.isObject) || (b == 0x5D && !top.isObject) {
                    position += 1
                    close()
                    if stack.isEmpty { return .success(out) }
                    expect = .commaOrEnd
                } else {
                    return .failure(.malformed(offset: position))
                }
            }
        }
    }

    /// The texts finished before the input ended early.
    private mutating func truncated() -> Result<[String], PromptText.ExtractionError> {
        while !stack.isEmpty { close() }
        return .success(out)
    }

    private static func isNumberByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2B || b == 0x2E || b == 0x65 || b == 0x45
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    // MARK: Meaning

    /// The context of a container opening at the current position.
    private func childContext(isObject: Bool) -> Context {
        guard let parent = stack.last else { return isObject ? .root : .other }
        switch (parent.context, parent.isObject ? parent.key : .other, isObject) {
        case (.root, .messages, false): return .messages
        case (.root, .prompt, false), (.root, .input, false): return .promptList
        case (.root, .inputExtra, false): return .extras
        case (.promptList, _, false): return .promptList
        case (.promptList, _, true), (.messages, _, true): return .message
        case (.message, .content, false), (.message, .output, false): return .parts
        case (.parts, _, true): return .part
        case (.extras, _, true): return .extra
        default: return .other
        }
    }

    /// Whether the string value starting here is one to decode.
    private func wantsString() -> Bool {
        guard let top = stack.last else { return false }
        switch (top.context, top.isObject ? top.key : .other) {
        case (.root, .prompt), (.root, .system), (.root, .instructions), (.root, .suffix), (.root, .input),
             (.root, .inputPrefix), (.root, .inputSuffix):
            return true
        case (.promptList, _), (.parts, _): return true
        case (.message, .content), (.message, .output), (.message, .role), (.message, .type): return true
        case (.part, .text), (.part, .type): return true
        case (.extra, .text): return true
        default: return false
        }
    }

    private mutating func stringValue(_ s: String) {
        guard let top = stack.last else { return }
        let index = stack.count - 1
        switch (top.context, top.isObject ? top.key : .other) {
        case (.message, .role): stack[index].role = s
        case (.message, .type), (.part, .type): stack[index].type = s
        case (.message, _), (.part, _): stack[index].texts.append(s)
        case (.parts, _): appendToMessage(s)
        default: out.append(s)
        }
    }

    private mutating func appendToMessage(_ s: String) {
        if let index = stack.lastIndex(where: { $0.context == .message }) { stack[index].texts.append(s) }
    }

    /// Closes the innermost container: a message hands on its texts unless the model wrote them.
    private mutating func close() {
        guard let frame = stack.popLast() else { return }
        switch frame.context {
        case .message:
            // The model's own words, replayed as history or as reasoning, are not the person's.
            let modelRoles: Set<String> = ["assistant", "model"]
            let modelTypes: Set<String> = ["reasoning", "function_call", "output_text"]
            if let role = frame.role, modelRoles.contains(role) { return }
            if let type = frame.type, modelTypes.contains(type) { return }
            out += frame.texts
        case .part:
            if frame.type == nil || frame.type == "text" || frame.type == "input_text" {
                for t in frame.texts { appendToMessage(t) }
            }
        default:
            break
        }
    }

    // MARK: Strings

    /// Skips a string whose opening quote was consumed; false if the input ends inside it.
    private mutating func skipString() -> Bool {
        while position < bytes.count {
            let b = bytes[position]
            position += 1
            if b == 0x5C {
                position += 1
            } else if b == 0x22 {
                return true
            }
        }
        return false
    }

    /// Decodes a string whose opening quote was consumed, keeping at most `limit` bytes; nil if the
    /// input ends inside it.
    private mutating func readString(limit: Int = .max) -> [UInt8]? {
        var out: [UInt8] = []
        var pendingHigh: UInt32 = 0
        func push(_ scalar: UInt32, _ out: inout [UInt8]) {
            guard out.count < limit else { return }
            let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
            out.append(contentsOf: s.utf8)
        }
        while position < bytes.count {
            let b = bytes[position]
            position += 1
            if b == 0x22 {
                if pendingHigh != 0 { push(0xFFFD, &out) }
                return out
            }
            guard b == 0x5C else {
                if pendingHigh != 0 { push(0xFFFD, &out); pendingHigh = 0 }
                if out.count < limit { out.append(b) }
                continue
            }
            guard position < bytes.count else { return nil }
            let e = bytes[position]
            position += 1
            var unit: UInt32?
            switch e {
            case 0x6E: unit = 0x0A
            case 0x74: unit = 0x09
            case 0x72: unit = 0x0D
            case 0x62: unit = 0x08
            case 0x66: unit = 0x0C
            case 0x75:
                guard position + 4 <= bytes.count else { return nil }
                var v: UInt32 = 0
                for i in 0..<4 {
                    guard let d = ASCII.hexValue(bytes[position + i]) else { v = 0xFFFD; break }
                    v = v << 4 | UInt32(d)
                }
                position += 4
                if (0xD800...0xDBFF).contains(v) {
                    if pendingHigh != 0 { push(0xFFFD, &out) }
                    pendingHigh = v
                    continue
                }
                if (0xDC00...0xDFFF).contains(v) {
                    if pendingHigh != 0 {
                        push(0x10000 + ((pendingHigh - 0xD800) << 10) + (v - 0xDC00), &out)
                        pendingHigh = 0
                    } else {
                        push(0xFFFD, &out)
                    }
                    continue
                }
                unit = v
            default: unit = UInt32(e)
            }
            if pendingHigh != 0 { push(0xFFFD, &out); pendingHigh = 0 }
            if let unit { push(unit, &out) }
        }
        return nil
    }
}

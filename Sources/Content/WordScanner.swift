/// Receives the normalized words a `WordScanner` finds: hashes them (at most `limit`, counting the
/// rest), or keeps them as text when it has no fingerprinter.
///
/// One concrete type rather than a protocol: the scanner's layers call each other recursively, and a
/// generic sink left them unspecialized, at several times the cost per byte.
struct WordSink {
    let fingerprinter: Fingerprinter?
    let limit: Int
    var hashes: [UInt64] = []
    var strings: [String] = []
    var skipped = 0

    /// A sink that hashes words.
    init(fingerprinter: Fingerprinter, limit: Int = .max, capacity: Int = 0) {
        self.fingerprinter = fingerprinter
        self.limit = limit
        if capacity > 0 { hashes.reserveCapacity(capacity) }
    }

    /// A sink that keeps words as text.
    init() {
        fingerprinter = nil
        limit = .max
    }

    @inline(__always)
    mutating func word(_ utf8: UnsafeBufferPointer<UInt8>) {
        guard let fingerprinter else {
            strings.append(String(decoding: utf8, as: UTF8.self))
            return
        }
        if hashes.count < limit { hashes.append(fingerprinter.wordHash(utf8)) } else { skipped += 1 }
    }
}

/// The incremental state machine under `WordStream`: bytes in, normalized words out.
///
/// Layers, each carrying its state across chunks: percent-decoding of bytes (`%XX`), UTF-8 decoding
/// (an invalid byte is a separator), JSON escapes on the decoded characters (`\uXXXX` with surrogate
/// pairs becomes its character; `\n`, `\"` and the like become separators; a run of backslashes counts
/// as one so doubly escaped JSON decodes too), then word assembly. A word is a maximal run of letters,
/// combining marks and digits, cut every `maximumWordBytes` bytes of UTF-8. A finished word is
/// normalized on its own (NFKC, full case folding, NFKC again, then split again at any non-word
/// character normalization produced): words are separated by non-letters, so composition across a
/// separator cannot change a word. Decoding escapes in text that is not JSON or a URL is harmless:
/// both sides of a comparison go through the same machine.
struct WordScanner {
    /// The longest word, in UTF-8 bytes before normalization; a longer run is cut into pieces this long.
    static let maximumWordBytes = 64

    // Percent layer: 0 idle, 1 after '%', 2 after '%' and one hex digit.
    private var percentState: UInt8 = 0
    private var percentHigh: UInt8 = 0
    // UTF-8 layer.
    private var utf8Need: UInt8 = 0
    private var utf8Seen: UInt8 = 0
    private var utf8Value: UInt32 = 0
    private var utf8Minimum: UInt32 = 0
    // Escape layer: 0 idle, 1 after one or more backslashes, 2 after "\u" (digits counted apart).
    private var escapeState: UInt8 = 0
    private var escapeDigits: UInt8 = 0
    private var escapeValue: UInt32 = 0
    private var pendingHighSurrogate: UInt32 = 0
    // The word being assembled: inline so an idle scanner owns no heap memory.
    private var word: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var wordLength: UInt8 = 0
    private var wordIsASCII = true

    init() {}

    /// Feeds one chunk; words completed inside it go to `sink`, a partial word waits for the next chunk.
    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, sink: inout WordSink) {
        for byte in bytes {
            // Plain ASCII with no escape under way is most of any stream: handled here without the
            // layered calls, it scans several times faster.
            if byte < 0x80 && byte != 0x25 && byte != 0x5C && percentState == 0 && utf8Need == 0 && escapeState == 0
                && pendingHighSurrogate == 0 {
                if Self.isASCIIWordByte(byte) {
                    if Int(wordLength) == Self.maximumWordBytes { endWord(sink: &sink) }
                    append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                } else if wordLength > 0 {
                    endWord(sink: &sink)
                }
                continue
            }
            percentLayer(byte, sink: &sink)
        }
    }

    /// Ends the input: flushes every pending state and the last word.
    mutating func finish(sink: inout WordSink) {
        switch percentState {
        case 1: percentState = 0; byteLayer(0x25, sink: &sink)
        case 2:
            percentState = 0
            byteLayer(0x25, sink: &sink)
            byteLayer(ASCII.hexDigit(percentHigh), sink: &sink)
        default: break
        }
        if utf8Need > 0 {
            utf8Need = 0
            escapeLayer(nil, sink: &sink)
        }
        flushEscape(sink: &sink)
        pendingHighSurrogate = 0
        endWord(sink: &sink)
    }

    // MARK: Percent layer

    @inline(__always)
    private mutating func percentLayer(_ byte: UInt8, sink: inout WordSink) {
        switch percentState {
        case 0:
            if byte == 0x25 { percentState = 1 } else { byteLayer(byte, sink: &sink) }
        case 1:
            if let digit = ASCII.hexValue(byte) {
                percentHigh = digit
                percentState = 2
            } else {
                percentState = 0
                byteLayer(0x25, sink: &sink)
                percentLayer(byte, sink: &sink)
            }
        default:
            percentState = 0
            if let digit = ASCII.hexValue(byte) {
                byteLayer(percentHigh << 4 | digit, sink: &sink)
            } else {
                byteLayer(0x25, sink: &sink)
                byteLayer(ASCII.hexDigit(percentHigh), sink: &sink)
                percentLayer(byte, sink: &sink)
            }
        }
    }

    // MARK: UTF-8 layer

    @inline(__always)
    private mutating func byteLayer(_ byte: UInt8, sink: inout WordSink) {
        if utf8Need == 0 {
            if byte < 0x80 {
                escapeLayer(UInt32(byte), sink: &sink)
                return
            }
            startSequence(byte, sink: &sink)
            return
        }
        guard byte & 0xC0 == 0x80 else {
            utf8Need = 0
            escapeLayer(nil, sink: &sink)
            byteLayer(byte, sink: &sink)
            return
        }
        utf8Value = utf8Value << 6 | UInt32(byte & 0x3F)
        utf8Seen += 1
        guard utf8Seen == utf8Need else { return }
        utf8Need = 0
        let value = utf8Value
        if value < utf8Minimum || value > 0x10FFFF || (0xD800...0xDFFF).contains(value) {
            escapeLayer(nil, sink: &sink)
        } else {
            escapeLayer(value, sink: &sink)
        }
    }

    private mutating func startSequence(_ byte: UInt8, sink: inout WordSink) {
        utf8Seen = 0
        switch byte {
        case 0xC2...0xDF: utf8Need = 1; utf8Value = UInt32(byte & 0x1F); utf8Minimum = 0x80
        case 0xE0...0xEF: utf8Need = 2; utf8Value = UInt32(byte & 0x0F); utf8Minimum = 0x800
        case 0xF0...0xF4: utf8Need = 3; utf8Value = UInt32(byte & 0x07); utf8Minimum = 0x10000
        default: escapeLayer(nil, sink: &sink)
        }
    }

    // MARK: Escape layer

    /// One decoded character, or nil for an undecodable one (a separator).
    @inline(__always)
    private mutating func escapeLayer(_ scalar: UInt32?, sink: inout WordSink) {
        guard let c = scalar else {
            flushEscape(sink: &sink)
            pendingHighSurrogate = 0
            endWord(sink: &sink)
            return
        }
        switch escapeState {
        case 0:
            if c == 0x5C {
                escapeState = 1
            } else {
                plainCharacter(c, sink: &sink)
            }
        case 1:
            switch c {
            case 0x5C: break
            case 0x75:  // u
                escapeState = 2
                escapeDigits = 0
                escapeValue = 0
            case 0x6E, 0x74, 0x72, 0x62, 0x66, 0x22, 0x2F:  // n t r b f " /
                escapeState = 0
                plainCharacter(0x20, sink: &sink)
            default:
                escapeState = 0
                plainCharacter(0x5C, sink: &sink)
                plainCharacter(c, sink: &sink)
            }
        default:
            if c < 0x80, let digit = ASCII.hexValue(UInt8(c)) {
                escapeValue = escapeValue << 4 | UInt32(digit)
                escapeDigits += 1
                if escapeDigits == 4 {
                    escapeState = 0
                    unit(escapeValue, sink: &sink)
                }
            } else {
                flushEscape(sink: &sink)
                escapeLayer(c, sink: &sink)
            }
        }
    }

    /// A `\uXXXX` code unit, pairing surrogates.
    private mutating func unit(_ value: UInt32, sink: inout WordSink) {
        switch value {
        case 0xD800...0xDBFF:
            if pendingHighSurrogate != 0 { endWord(sink: &sink) }
            pendingHighSurrogate = value
        case 0xDC00...0xDFFF:
            if pendingHighSurrogate != 0 {
                let scalar = 0x10000 + ((pendingHighSurrogate - 0xD800) << 10) + (value - 0xDC00)
                pendingHighSurrogate = 0
                wordCharacter(scalar, sink: &sink)
            } else {
                endWord(sink: &sink)
            }
        default:
            plainCharacter(value, sink: &sink)
        }
    }

    /// Gives back, as plain characters, what an unfinished escape consumed.
    private mutating func flushEscape(sink: inout WordSink) {
        switch escapeState {
        case 1:
            escapeState = 0
            plainCharacter(0x5C, sink: &sink)
        case 2:
            escapeState = 0
            plainCharacter(0x75, sink: &sink)
            var shift = Int(escapeDigits) * 4
            while shift > 0 {
                shift -= 4
                plainCharacter(UInt32(ASCII.hexDigit(UInt8((escapeValue >> UInt32(shift)) & 0xF))), sink: &sink)
            }
        default: break
        }
    }

    @inline(__always)
    private mutating func plainCharacter(_ c: UInt32, sink: inout WordSink) {
        if pendingHighSurrogate != 0 {
            pendingHighSurrogate = 0
            endWord(sink: &sink)
        }
        wordCharacter(c, sink: &sink)
    }

    // MARK: Word layer

    @inline(__always)
    private mutating func wordCharacter(_ c: UInt32, sink: inout WordSink) {
        if c < 0x80 {
            let b = UInt8(c)
            guard Self.isASCIIWordByte(b) else {
                endWord(sink: &sink)
                return
            }
            if Int(wordLength) + 1 > Self.maximumWordBytes { endWord(sink: &sink) }
            // ASCII folds here; a word with anything else goes through Foundation at its end.
            append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
            return
        }
        guard let scalar = Unicode.Scalar(c), Self.isWordScalar(scalar) else {
            endWord(sink: &sink)
            return
        }
        let encoded = scalar.utf8
        if Int(wordLength) + encoded.count > Self.maximumWordBytes { endWord(sink: &sink) }
        wordIsASCII = false
        for b in encoded { append(b) }
    }

    @inline(__always)
    private mutating func append(_ byte: UInt8) {
        let index = Int(wordLength)
        withUnsafeMutableBytes(of: &word) { $0[index] = byte }
        wordLength += 1
    }

    private mutating func endWord(sink: inout WordSink) {
        guard wordLength > 0 else { return }
        let length = Int(wordLength)
        let ascii = wordIsASCII
        wordLength = 0
        wordIsASCII = true
        withUnsafeBytes(of: &word) { raw in
            let bytes = UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[0..<length])
            if ascii {
                sink.word(bytes)
            } else {
                TextNormalizer.normalizeWord(bytes, sink: &sink)
            }
        }
    }

    // MARK: Character classes

    @inline(__always)
    static func isASCIIWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A)
    }

    /// Letters, combining marks (so a decomposed accent stays in its word) and numbers.
    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return isASCIIWordByte(UInt8(scalar.value)) }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }
}

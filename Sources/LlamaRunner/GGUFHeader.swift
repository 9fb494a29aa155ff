/// The header of a GGUF model file: version, metadata the runner reports, and the tensor table.
///
/// Parsed by us before llama.cpp sees the file, so that a file that is not a model, is cut short or
/// has a damaged header gets a precise message instead of a failed load.
public struct GGUFHeader: Sendable, Equatable {
    /// One entry of the tensor table.
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        /// The ggml type number (0 = F32, 1 = F16, …).
        public var type: UInt32
        /// Dimensions, innermost first.
        public var dimensions: [UInt64]
        /// Offset of the tensor's data from the start of the data section.
        public var offset: UInt64

        public init(name: String, type: UInt32, dimensions: [UInt64], offset: UInt64) {
            self.name = name
            self.type = type
            self.dimensions = dimensions
            self.offset = offset
        }
    }

    public var version: UInt32
    public var tensorCount: UInt64
    public var metadataCount: UInt64
    /// Metadata values that are strings or integers, by key; arrays are skipped.
    public var strings: [String: String]
    public var integers: [String: Int64]
    public var tensors: [TensorInfo]
    /// Where the tensor data starts in the file (aligned to `alignment`).
    public var dataOffset: UInt64
    public var alignment: UInt64

    /// Why a header could not be parsed.
    public enum ParseError: Error, Equatable, Sendable {
        /// The buffer ended before the header did; more of the file is needed (or the file is cut short).
        case needMoreBytes
        case notGGUF(firstBytes: [UInt8])
        case unsupportedVersion(UInt32)
        case malformed(offset: Int, reason: String)
    }

    static let magic: [UInt8] = Array("GGUF".utf8)

    /// Parses the header from the first bytes of a file.
    ///
    /// Throws `needMoreBytes` when `bytes` ends inside the header; the caller decides whether that
    /// means "read more" or "the file is truncated".
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> GGUFHeader {
        var reader = Reader(bytes: bytes)
        guard bytes.count >= 4 else {
            if bytes.isEmpty || Array(magic.prefix(bytes.count)) != bytes {
                throw .notGGUF(firstBytes: bytes)
            }
            throw .needMoreBytes
        }
        let head = Array(bytes[0..<4])
        guard head == magic else { throw .notGGUF(firstBytes: head) }
        reader.position = 4
        let version = try reader.u32()
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try reader.u64()
        let metadataCount = try reader.u64()
        // Each tensor info takes at least 24 bytes and each key/value at least 12: counts beyond what
        // any real file holds mean a damaged header, not a big model.
        guard tensorCount < 1 << 24 else {
            throw .malformed(offset: 8, reason: "tensor count \(tensorCount) is not plausible")
        }
        guard metadataCount < 1 << 24 else {
            throw .malformed(offset: 16, reason: "metadata count \(metadataCount) is not plausible")
        }

        var strings: [String: String] = [:]
        var integers: [String: Int64] = [:]
        for _ in 0..<metadataCount {
            let keyOffset = reader.position
            let key = try reader.string()
            guard !key.isEmpty else { throw .malformed(offset: keyOffset, reason: "empty metadata key") }
            let typeOffset = reader.position
            let type = try reader.u32()
            let value = try reader.value(type: type, typeOffset: typeOffset)
            switch value {
            case .string(let s): strings[key] = s
            case .integer(let i): integers[key] = i
            case .float, .array, .other: break
            }
            if let reason = Self.implausible(key: key, value) { throw .malformed(offset: keyOffset, reason: reason) }
        }

        if let reason = Self.inconsistent(integers) { throw .malformed(offset: 0, reason: reason) }

        var alignment: UInt64 = 32
        if let a = integers["general.alignment"] {
            guard a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw .malformed(offset: 0, reason: "general.alignment \(a) is not a power of two")
            }
            alignment = UInt64(a)
        }

        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(Int(tensorCount))
        for _ in 0..<tensorCount {
            let infoOffset = reader.position
            let name = try reader.string()
            let dimensionCount = try reader.u32()
            guard dimensionCount >= 1, dimensionCount <= 4 else {
                throw .malformed(offset: infoOffset, reason: "tensor \(name.debugDescription) has \(dimensionCount) dimensions")
            }
            var dimensions: [UInt64] = []
            for _ in 0..<dimensionCount {
                let d = try reader.u64()
                guard d >= 1, d < 1 << 40 else {
                    throw .malformed(offset: infoOffset, reason: "tensor \(name.debugDescription) has dimension \(d)")
                }
                dimensions.append(d)
            }
            let type = try reader.u32()
            let offset = try reader.u64()
            guard offset % alignment == 0 else {
                throw .malformed(offset: infoOffset, reason: "tensor \(name.debugDescription) data offset \(offset) is not aligned")
            }
            tensors.append(TensorInfo(name: name, type: type, dimensions: dimensions, offset: offset))
        }
        let end = UInt64(reader.position)
        let dataOffset = (end + alignment - 1) / alignment * alignment
        return GGUFHeader(
            version: version, tensorCount: tensorCount, metadataCount: metadataCount,
            strings: strings, integers: integers, tensors: tensors,
            dataOffset: dataOffset, alignment: alignment
        )
    }
}

extension GGUFHeader {
    /// llama.cpp's compile-time limits (`LLAMA_MAX_LAYERS`, `LLAMA_MAX_EXPERTS` in the builds we
    /// load): a model beyond them makes it abort the process, not fail the load.
    static let maximumLayers: Int64 = 512
    static let maximumExperts: Int64 = 256

    /// Hyperparameters llama.cpp reads into 32-bit counts and divides or sizes arrays by, with the
    /// range a real model's value lies in. Outside it, llama.cpp asserts, divides by zero or
    /// allocates without bound, so the file is refused here.
    static let counts: [(suffix: String, range: ClosedRange<Int64>)] = [
        (".block_count", 1...maximumLayers),
        (".context_length", 1...(1 << 27)),
        (".embedding_length", 1...(1 << 20)),
        (".feed_forward_length", 0...(1 << 22)),
        (".attention.head_count", 0...(1 << 14)),
        (".attention.head_count_kv", 0...(1 << 14)),
        (".attention.key_length", 0...(1 << 16)),
        (".attention.value_length", 0...(1 << 16)),
        (".rope.dimension_count", 0...(1 << 16)),
        (".vocab_size", 1...(1 << 24)),
        (".expert_count", 0...maximumExperts),
        (".expert_used_count", 0...maximumExperts),
    ]

    /// Why a hyperparameter's value would make llama.cpp abort instead of failing the load, or nil.
    ///
    /// llama.cpp asserts on these rather than returning an error, so they are checked here first:
    /// counts within what a model can have (per-layer arrays no longer than the layer limit), and
    /// no float that is not a finite number.
    static func implausible(key: String, _ value: Reader.Value) -> String? {
        if key.hasPrefix("general.") || key.hasPrefix("tokenizer.") { return nil }
        if case .float(let f) = value, !f.isFinite {
            return "\(key) is \(value), but a hyperparameter must be a finite number"
        }
        if let count = counts.first(where: { key.hasSuffix($0.suffix) }) {
            switch value {
            case .integer(let n) where count.range.contains(n):
                break
            case .array(let length) where length <= UInt64(maximumLayers):
                break  // one value per layer; the values are checked by llama.cpp's loader
            case .array(let length):
                return "\(key) has \(length) per-layer values, more than the \(maximumLayers) layers llama.cpp can load"
            default:
                return "\(key) is \(value), outside \(count.range.lowerBound)…\(count.range.upperBound), the range a model's value lies in"
            }
        }
        if key.hasSuffix(".layer_norm_rms_epsilon") || key.hasSuffix(".layer_norm_epsilon") {
            let epsilon: Double? = switch value {
            case .float(let f): f
            case .integer(let i): Double(i)
            default: nil
            }
            guard let epsilon, epsilon.isFinite, epsilon >= 0 else {
                return "\(key) is \(value), but a norm epsilon must be a finite number, zero or more"
            }
        }
        return nil
    }

    /// Why the hyperparameters together would make llama.cpp abort, or nil: a head count that does
    /// not divide the embedding, more experts used than there are.
    static func inconsistent(_ integers: [String: Int64]) -> String? {
        for (key, heads) in integers where key.hasSuffix(".attention.head_count") && heads > 0 {
            let prefix = key.dropLast(".attention.head_count".count)
            if let embedding = integers[prefix + ".embedding_length"], embedding % heads != 0,
               integers[prefix + ".attention.key_length"] == nil {
                return "\(prefix).embedding_length \(embedding) is not a multiple of \(key) \(heads)"
            }
            if let kv = integers[prefix + ".attention.head_count_kv"], kv > heads {
                return "\(prefix).attention.head_count_kv \(kv) is more than \(key) \(heads)"
            }
        }
        for (key, used) in integers where key.hasSuffix(".expert_used_count") && used > 0 {
            let prefix = key.dropLast(".expert_used_count".count)
            if used > integers[prefix + ".expert_count", default: 0] {
                return "\(key) \(used) is more than \(prefix).expert_count \(integers[prefix + ".expert_count", default: 0])"
            }
        }
        return nil
    }

    /// A little-endian cursor over the header bytes that never reads past the end.
    struct Reader {
        let bytes: [UInt8]
        var position = 0

        enum Value: CustomStringConvertible {
            case string(String)
            case integer(Int64)
            case float(Double)
            case array(UInt64)
            case other

            var description: String {
                switch self {
                case .string(let s): s.debugDescription
                case .integer(let i): "\(i)"
                case .float(let f): "\(f)"
                case .array(let length): "an array of \(length)"
                case .other: "not a number"
                }
            }
        }

        mutating func take(_ count: Int) throws(ParseError) -> ArraySlice<UInt8> {
            guard count >= 0, count <= bytes.count - position else { throw .needMoreBytes }
            defer { position += count }
            return bytes[position..<position + count]
        }

        mutating func skip(_ count: UInt64) throws(ParseError) {
            guard count <= UInt64(bytes.count - position) else { throw .needMoreBytes }
            position += Int(count)
        }

        mutating func integer(width: Int) throws(ParseError) -> UInt64 {
            var value: UInt64 = 0
            for (i, byte) in try take(width).enumerated() {
                value |= UInt64(byte) << (8 * UInt64(i))
            }
            return value
        }

        mutating func u32() throws(ParseError) -> UInt32 { UInt32(truncatingIfNeeded: try integer(width: 4)) }
        mutating func u64() throws(ParseError) -> UInt64 { try integer(width: 8) }

        mutating func string() throws(ParseError) -> String {
            let start = position
            let length = try u64()
            // No key or value in a real model is anywhere near 1 GiB; a larger length is damage.
            guard length < 1 << 30 else {
                throw .malformed(offset: start, reason: "string length \(length) is not plausible")
            }
            guard length <= UInt64(bytes.count - position) else { throw .needMoreBytes }
            return String(decoding: try take(Int(length)), as: UTF8.self)
        }

        static func width(of type: UInt32) -> Int? {
            switch type {
            case 0, 1, 7: 1  // uint8, int8, bool
            case 2, 3: 2  // uint16, int16
            case 4, 5, 6: 4  // uint32, int32, float32
            case 10, 11, 12: 8  // uint64, int64, float64
            default: nil
            }
        }

        /// Reads a value whose type field was at `typeOffset`; arrays hold plain values or strings.
        mutating func value(type: UInt32, typeOffset: Int) throws(ParseError) -> Value {
            let start = typeOffset
            switch type {
            case 8:
                return .string(try string())
            case 9:
                let elementType = try u32()
                let count = try u64()
                guard count < 1 << 32 else {
                    throw .malformed(offset: start, reason: "array length \(count) is not plausible")
                }
                if let width = Self.width(of: elementType) {
                    try skip(count * UInt64(width))
                } else if elementType == 8 {
                    for _ in 0..<count { _ = try string() }
                } else {
                    throw .malformed(offset: start, reason: "unknown array element type \(elementType)")
                }
                return .array(count)
            default:
                guard let width = Self.width(of: type) else {
                    throw .malformed(offset: start, reason: "unknown value type \(type)")
                }
                let raw = try integer(width: width)
                switch type {
                case 0, 2, 4, 10: return .integer(Int64(truncatingIfNeeded: raw))
                case 1: return .integer(Int64(Int8(truncatingIfNeeded: raw)))
                case 3: return .integer(Int64(Int16(truncatingIfNeeded: raw)))
                case 5: return .integer(Int64(Int32(truncatingIfNeeded: raw)))
                case 11: return .integer(Int64(bitPattern: raw))
                case 6: return .float(Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))))
                case 12: return .float(Double(bitPattern: raw))
                default: return .other
                }
            }
        }
    }
}

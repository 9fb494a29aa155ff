import LlamaRunner
import Testing

@Suite("GGUF header parsing")
struct GGUFHeaderTests {
    /// A minimal GGUF v3 header with one string key and one F32 tensor of 4 elements.
    static func header(key: String = "general.architecture", value: String = "llama") -> [UInt8] {
        var bytes = Array("GGUF".utf8)
        func u32(_ v: UInt32) { bytes += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        func u64(_ v: UInt64) { bytes += (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
        u32(3); u64(1); u64(1)
        string(key); u32(8); string(value)
        string("t"); u32(1); u64(4); u32(0); u64(0)
        return bytes
    }

    @Test func parsesKeysTensorsAndTheDataOffset() throws {
        let header = try GGUFHeader.parse(Self.header())
        #expect(header.version == 3)
        #expect(header.strings["general.architecture"] == "llama")
        #expect(header.tensors == [GGUFHeader.TensorInfo(name: "t", type: 0, dimensions: [4], offset: 0)])
        #expect(header.dataOffset % 32 == 0)
        #expect(header.dataOffset >= UInt64(Self.header().count))
    }

    @Test func everyShorterPrefixAsksForMoreBytes() {
        let bytes = Self.header()
        for length in 1..<bytes.count {
            #expect(throws: GGUFHeader.ParseError.needMoreBytes) { try GGUFHeader.parse(Array(bytes.prefix(length))) }
        }
    }

    @Test func otherFilesAreNotGGUF() {
        #expect(throws: GGUFHeader.ParseError.notGGUF(firstBytes: [0x7F, 0x45, 0x4C, 0x46])) {
            try GGUFHeader.parse([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])
        }
        #expect(throws: GGUFHeader.ParseError.notGGUF(firstBytes: [])) { try GGUFHeader.parse([]) }
    }

    @Test func anUnknownValueTypeIsMalformed() {
        var bytes = Self.header()
        // The value type follows magic, version, counts (24 bytes) and the key (8 + 20 bytes).
        bytes[24 + 8 + 20] = 77
        #expect(throws: GGUFHeader.ParseError.malformed(offset: 52, reason: "unknown value type 77")) {
            try GGUFHeader.parse(bytes)
        }
    }
}

@testable import LlamaRunner
import Testing

@Suite("Joining token pieces into text")
struct UTF8AssemblerTests {
    @Test func aCharacterSplitAcrossPiecesComesOutWhole() {
        var assembler = UTF8Assembler()
        let bytes = Array("né🙂".utf8)  // 1 + 2 + 4 bytes
        var out: [String] = []
        for byte in bytes { out.append(assembler.append([byte])) }
        out.append(assembler.flush())
        #expect(out.joined() == "né🙂")
        #expect(out.filter { !$0.isEmpty } == ["n", "é", "🙂"])
    }

    @Test func anUnfinishedSequenceIsReplacedOnFlush() {
        var assembler = UTF8Assembler()
        #expect(assembler.append([0x61, 0xF0, 0x9F]) == "a")
        #expect(assembler.flush() == "\u{FFFD}")
    }
}

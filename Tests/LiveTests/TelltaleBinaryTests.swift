import Testing
import TestSupport

@Suite struct TelltaleBinaryTests {
    @Test func theBuiltBinaryIsNextToTheTests() throws {
        let path = try #require(BuiltExecutable.path("telltale"), "no built telltale binary found")
        #expect(path.hasSuffix("/telltale"))
    }
}

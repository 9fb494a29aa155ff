import Testing

@Suite struct TelltaleBinaryTests {
    @Test func theBuiltBinaryIsNextToTheTests() throws {
        let path = try #require(TelltaleBinary.path, "no built telltale binary found")
        #expect(path.hasSuffix("/telltale"))
    }
}

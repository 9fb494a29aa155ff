import Testing
@testable import Content

@Test func sipHashMatchesTheReferenceVector() {
    // SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e.
    var h = SipHash(key0: 0x0706_0504_0302_0100, key1: 0x0f0e_0d0c_0b0a_0908)
    let message: [UInt8] = Array(0..<15)
    message.withUnsafeBufferPointer { h.append(bytes: $0) }
    #expect(h.finalize() == 0xa129_ca61_49be_45e5)
    // Fed in pieces, the same.
    var pieces = SipHash(key0: 0x0706_0504_0302_0100, key1: 0x0f0e_0d0c_0b0a_0908)
    message.withUnsafeBufferPointer {
        pieces.append(bytes: UnsafeBufferPointer(rebasing: $0[0..<3]))
        pieces.append(bytes: UnsafeBufferPointer(rebasing: $0[3..<15]))
    }
    #expect(pieces.finalize() == 0xa129_ca61_49be_45e5)
}

@Test func rejectsABadSaltOrShape() {
    #expect(throws: Fingerprinter.ConfigurationError.saltLength(3)) { try Fingerprinter(salt: [1, 2, 3]) }
    #expect(throws: Fingerprinter.ConfigurationError.shingleWords(0)) { try Fingerprinter(salt: Fixture.salt, shingleWords: 0) }
    #expect(throws: Fingerprinter.ConfigurationError.window(0)) { try Fingerprinter(salt: Fixture.salt, window: 0) }
    #expect(Fixture.fingerprinter().guaranteedWords == 8)
}

@Test func hashesDependOnTheSalt() {
    let a = Fixture.fingerprinter().wordHashes(of: "hello world")
    let b = Fixture.fingerprinter(salt: Fixture.otherSalt).wordHashes(of: "hello world")
    #expect(a.count == 2)
    #expect(a != b)
    #expect(Fixture.fingerprinter().wordHashes(of: "HELLO, World!") == a)
}

@Test func winnowingKeepsAFingerprintInEveryWindow() {
    var generator = SplitMix64(seed: 7)
    let f = Fixture.fingerprinter()
    for _ in 0..<200 {
        let shingles = (0..<Int.random(in: 1...80, using: &generator)).map { _ in UInt64.random(in: 0...50, using: &generator) }
        let kept = Set(f.winnow(shingles).map(\.position))
        let w = min(f.window, shingles.count)
        for start in 0...(shingles.count - w) {
            #expect(kept.contains { (start..<(start + w)).contains($0) })
        }
    }
}

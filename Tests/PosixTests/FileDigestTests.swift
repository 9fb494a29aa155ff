import Crypto
import Foundation
import Posix
import Testing

@Suite struct FileDigestTests {
    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "tt-digest-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func sha256MatchesTheStandardVectors() throws {
        let vectors = [
            "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq": "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ]
        for (text, digest) in vectors {
            let path = try temporaryFile(Array(text.utf8))
            defer { unlink(path) }
            #expect(try FileDigest.sha256(ofFileAt: path) == digest, "\(text.debugDescription)")
        }
    }

    @Test func aFileReadInSeveralPiecesHasTheDigestOfItsWholeContent() throws {
        let data = (0..<(5 << 19) + 77).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let path = try temporaryFile(data)
        defer { unlink(path) }
        #expect(try FileDigest.sha256(ofFileAt: path) == FileDigest.hex(SHA256.hash(data: data)))
    }

    @Test func aMissingFileIsAnErrorThatSaysWhy() {
        do {
            _ = try FileDigest.sha256(ofFileAt: "/nonexistent/tt-digest")
            Issue.record("a missing file was hashed")
        } catch {
            #expect(error.code == ENOENT)
            #expect(error.description == "open /nonexistent/tt-digest: No such file or directory")
        }
    }
}

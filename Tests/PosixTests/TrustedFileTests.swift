import Foundation
import Posix
import Testing

@Suite struct TrustedFileTests {
    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "tt-trusted-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        return path
    }

    static func write(_ path: String, _ text: String, mode: mode_t = 0o644) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode)
    }

    @Test func aMissingFileIsRefusedWithTheSystemsReasonAndTheCallThatFailed() throws {
        let path = try Self.directory() + "/missing.yaml"
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(throws: TrustedFile.Refusal(path: path, cannotRead: SystemError("lstat \(path)", code: ENOENT))) {
            try TrustedFile.read(path, checkTrust: true, maximumSize: 1 << 20)
        }
        do {
            _ = try TrustedFile.read(path, checkTrust: true, maximumSize: 1 << 20)
        } catch {
            #expect(error.description == "\(path): cannot read: No such file or directory")
            #expect(error.cause?.code == ENOENT)
        }
    }

    @Test func aFileIsReadWholeAndOneLargerThanTheLimitIsRefused() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        Self.write(directory + "/rules.yaml", String(repeating: "x", count: 100))
        #expect(try TrustedFile.read(directory + "/rules.yaml", checkTrust: true, maximumSize: 100) == String(repeating: "x", count: 100))
        #expect(throws: TrustedFile.Refusal.self) {
            try TrustedFile.read(directory + "/rules.yaml", checkTrust: true, maximumSize: 99)
        }
    }

    @Test func whatIsAtAPathIsToldWithoutOpeningItAndALinkIsRefusedWithTheCallersAdvice() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        Self.write(directory + "/rules.yaml", "rules: []\n")
        #expect(try TrustedFile.isDirectory(directory, checkTrust: true, linkAdvice: "give the rules"))
        #expect(try !TrustedFile.isDirectory(directory + "/rules.yaml", checkTrust: true, linkAdvice: "give the rules"))
        #expect(symlink(directory + "/rules.yaml", directory + "/link.yaml") == 0)
        #expect(throws: TrustedFile.Refusal(path: directory + "/link.yaml", message: "is a symbolic link: refused; give the rules")) {
            try TrustedFile.isDirectory(directory + "/link.yaml", checkTrust: false, linkAdvice: "give the rules")
        }
    }

    @Test func aGroupWritableFileIsRefusedOnlyWhenTrustIsChecked() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        Self.write(directory + "/rules.yaml", "rules: []\n", mode: 0o664)
        #expect(try !TrustedFile.isDirectory(directory + "/rules.yaml", checkTrust: false, linkAdvice: ""))
        #expect(throws: TrustedFile.Refusal(
            path: directory + "/rules.yaml",
            message: "the file is writable by group or others (mode 0664): refused; run chmod go-w on it")) {
            try TrustedFile.isDirectory(directory + "/rules.yaml", checkTrust: true, linkAdvice: "")
        }
        #expect(throws: TrustedFile.Refusal.self) {
            try TrustedFile.read(directory + "/rules.yaml", checkTrust: true, maximumSize: 1 << 20)
        }
        #expect(try TrustedFile.read(directory + "/rules.yaml", checkTrust: false, maximumSize: 1 << 20) == "rules: []\n")
    }
}

import Foundation
import Posix
import Testing

@Suite(.serialized) struct PrivateFileTests {
    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "tt-private-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    static func mode(_ path: String) -> UInt32 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        return UInt32(info.st_mode & 0o7777)
    }

    @Test func theModeIsExactlyTheOneAskedWhateverTheUmask() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let previous = umask(0o077)
        defer { umask(previous) }
        for mode: UInt32 in [0o644, 0o600, 0o640] {
            try PrivateFile.write(Array("mode \(mode)\n".utf8), to: directory + "/file", mode: mode)
            #expect(Self.mode(directory + "/file") == mode)
            #expect(FileManager.default.contents(atPath: directory + "/file") == Data("mode \(mode)\n".utf8))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["file"])
    }

    @Test func aLinkPlantedAtTheTemporaryNameIsNotFollowed() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let victim = directory + "/victim"
        FileManager.default.createFile(atPath: victim, contents: Data("keep".utf8))
        #expect(symlink(victim, directory + "/file.tmp-\(getpid())") == 0)
        #expect(throws: SystemError("create \(directory)/file.tmp-\(getpid())", code: EEXIST)) {
            try PrivateFile.write(Array("new".utf8), to: directory + "/file")
        }
        #expect(FileManager.default.contents(atPath: victim) == Data("keep".utf8))
        #expect(!FileManager.default.fileExists(atPath: directory + "/file"))
    }
}

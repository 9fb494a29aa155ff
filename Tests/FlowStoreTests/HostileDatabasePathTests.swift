import Foundation
import GRDB
import Testing
@testable import FlowStore

/// A `--db` path that is not a plain file of ours, or a database from the future.
@Suite struct HostileDatabasePathTests {
    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test(arguments: ["DELETE", "WAL"])
    func aDatabaseFromANewerTelltaleIsRefusedWithoutAByteChanging(_ journal: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/new.db"
        _ = try FlowStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')")
            try db.execute(sql: "PRAGMA journal_mode = \(journal)")
        }
        try queue.close()
        let before = try #require(Self.bytes(path))
        for readOnly in [false, true] {
            #expect(throws: StoreError.self) { _ = try FlowStore(path: path, readOnly: readOnly) }
            do {
                _ = try FlowStore(path: path, readOnly: readOnly)
            } catch {
                #expect(error.kind == .tooNew)
            }
            #expect(Self.bytes(path) == before, "readOnly \(readOnly): the file changed")
        }
    }

    @Test(arguments: [false, true])
    func aFIFOAsTheDatabaseIsRefusedInsteadOfBlocking(_ readOnly: Bool) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/fifo.db"
        #expect(mkfifo(path, 0o600) == 0)
        do {
            _ = try FlowStore(path: path, readOnly: readOnly)
            Issue.record("a FIFO was opened as a database")
        } catch {
            #expect(error.kind == .unavailable)
            #expect(error.description.contains("FIFO"), "\(error)")
        }
    }

    @Test func aDanglingSymlinkAsTheDatabaseIsRefusedAndNothingIsCreatedAtItsTarget() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/elsewhere.db", link = dir + "/link.db"
        #expect(symlink(target, link) == 0)
        do {
            _ = try FlowStore(path: link)
            Issue.record("a dangling symlink was followed")
        } catch {
            #expect(error.kind == .unavailable)
            #expect(error.description.contains("symbolic link"), "\(error)")
        }
        #expect(access(target, F_OK) != 0)
    }

    @Test func aSymlinkToAnEmptyFileIsRefusedAndTheFileKeepsItsModeAndBytes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/victim", link = dir + "/link.db"
        #expect(FileManager.default.createFile(atPath: target, contents: Data(), attributes: [.posixPermissions: 0o604]))
        #expect(symlink(target, link) == 0)
        #expect(throws: StoreError.self) { _ = try FlowStore(path: link) }
        var info = stat()
        #expect(stat(target, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o604)
        #expect(info.st_size == 0)
    }
}

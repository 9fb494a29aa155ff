import FlowStore
import Foundation
import Testing
import TestSupport

/// The installed layout: the database in a set-group-ID state directory, mode 0640, group-readable by
/// one group. Commands run as an unprivileged user outside the group say who may read it and how to
/// join; a member reads it, also after the writer closed it.
@Suite struct DatabaseAccessTests {
    static var canSwitchUsers: Bool {
        DaemonFixtures.isRoot && ["/usr/bin/setpriv", "/usr/sbin/groupadd", "/usr/sbin/groupdel"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// `telltale ARGS…` as uid/gid 65534 (nobody), with `groups` as its only supplementary groups.
    static func runAsNobody(groups: [String], _ arguments: [String]) throws -> TestProcess.Outcome {
        let membership = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.joined(separator: ",")]
        return try TestProcess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534"] + membership
            + [BuiltExecutable.telltale] + arguments)
    }

    @Test(.enabled(if: canSwitchUsers, "needs root, setpriv, groupadd and groupdel: runs telltale as another user"))
    func aUserOutsideTheGroupIsToldWhichGroupReadsTheDatabase() throws {
        let group = "tt-access-" + UUID().uuidString.prefix(8).lowercased()
        try #require(try TestProcess.run(["/usr/sbin/groupadd", "--system", group]).status == 0)
        defer { _ = try? TestProcess.run(["/usr/sbin/groupdel", group]) }

        let directory = try ScratchDirectory.make("access")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        let state = directory + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false)
        try #require(try TestProcess.run(["chgrp", group, state]).status == 0)
        try #require(try TestProcess.run(["chmod", "2750", state]).status == 0)

        // Written and closed by root, as by `telltale daemon` run by hand.
        let database = state + "/telltale.db"
        do { _ = try FlowStore(path: database) }
        for file in [database, database + "-wal", database + "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.posixPermissions] as? Int) == 0o640, "\(file)")
            #expect((attributes[.groupOwnerAccountName] as? String) == group, "\(file)")
        }

        // The directory cannot be searched by others: the hint takes its group.
        let outsider = try Self.runAsNobody(groups: [], ["report", "--db", database])
        #expect(outsider.status == 1)
        #expect(outsider.error.contains("Permission denied"), "\(outsider.error)")
        #expect(outsider.error.contains("\(database) is readable by root and members of the `\(group)` group: sudo adduser $USER \(group)"),
                "\(outsider.error)")

        // A searchable directory: the file's own mode refuses, and its group is named.
        try #require(try TestProcess.run(["chmod", "2755", state]).status == 0)
        let fileOutsider = try Self.runAsNobody(groups: [], ["alerts", "--db", database])
        #expect(fileOutsider.status == 1)
        #expect(fileOutsider.error.contains("members of the `\(group)` group"), "\(fileOutsider.error)")
        try #require(try TestProcess.run(["chmod", "2750", state]).status == 0)

        // A member reads it although it may create no file beside it: the writer left -wal and -shm.
        let member = try Self.runAsNobody(groups: [group], ["report", "--db", database, "--format", "json"])
        #expect(member.status == 0, "\(member.error)")
        #expect(!member.error.contains("Permission denied"), "\(member.error)")
    }
}

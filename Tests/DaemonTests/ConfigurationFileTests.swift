import Foundation
import Testing
import TestSupport

/// The daemon's configuration file, checked before the daemon starts.
@Suite struct ConfigurationFileTests {
    static func daemon(
        config text: String, mode: mode_t = 0o600, prepare: (_ directory: String, _ file: String) -> String? = { _, _ in nil }
    ) throws -> (status: Int32, output: String) {
        let directory = try ScratchDirectory.make("config")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var file = directory + "/telltale.yaml"
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, mode)
        if let other = prepare(directory, file) { file = other }
        let outcome = try TestProcess.runCombined(["timeout", "20", BuiltExecutable.telltale, "daemon", "--config", file, "--db", directory + "/t.db"])
        return (outcome.status, outcome.output)
    }

    @Test func aWorldWritableConfigurationIsRefusedBeforeItsCommandCanRun() throws {
        let marker = NSTemporaryDirectory() + "telltale-config-ran-\(UUID().uuidString.prefix(8))"
        defer { unlink(marker) }
        let (status, output) = try Self.daemon(config: "alerts:\n  command: touch \(marker)\n", mode: 0o666)
        #expect(status == 1, "status \(status): \(output)")
        #expect(output.contains("telltale.yaml") && output.contains("writable by group or others"), "\(output)")
        #expect(access(marker, F_OK) != 0)
    }

    /// A root-owned 0644 configuration naming a 0777 script: the script is what runs as root, so it
    /// is held to the configuration's trust, as OpenSSH holds AuthorizedKeysCommand.
    @Test func anAlertCommandOthersMayWriteIsRefusedBeforeItCanRun() throws {
        let marker = NSTemporaryDirectory() + "telltale-hook-ran-\(UUID().uuidString.prefix(8))"
        defer { unlink(marker) }
        var hookPath = ""
        let (status, output) = try Self.daemon(config: "", mode: 0o644) { directory, file in
            hookPath = directory + "/hook.sh"
            try? "#!/bin/sh\ntouch \(marker)\n".write(toFile: hookPath, atomically: false, encoding: .utf8)
            chmod(hookPath, 0o777)
            try? "alerts:\n  command: [\(hookPath)]\n".write(toFile: file, atomically: false, encoding: .utf8)
            return nil
        }
        #expect(status == 1, "status \(status): \(output)")
        #expect(output.contains("alerts.command: \(hookPath): the program is writable by group or others"), "\(output)")
        #expect(access(marker, F_OK) != 0)
        // Named through the shell, the program is the command line's first word, checked the same way.
        let shell = try Self.daemon(config: "", mode: 0o644) { directory, file in
            let hook = directory + "/hook.sh"
            try? "#!/bin/sh\n".write(toFile: hook, atomically: false, encoding: .utf8)
            chmod(hook, 0o757)
            try? "alerts:\n  command: \(hook) --flag\n".write(toFile: file, atomically: false, encoding: .utf8)
            return nil
        }
        #expect(shell.status == 1 && shell.output.contains("the program is writable by group or others"), "\(shell.output)")
        let relative = try Self.daemon(config: "alerts:\n  command: touch /tmp/x\n")
        #expect(relative.status == 1 && relative.output.contains("the program must be an absolute path"), "\(relative.output)")
    }

    @Test func aConfigurationOfAnotherUserIsRefused() throws {
        guard DaemonFixtures.isRoot else {
            print("skipped: giving a file to another user needs root")
            return
        }
        let (status, output) = try Self.daemon(config: "log_level: info\n") { _, file in
            chown(file, 4242, 4242)
            return nil
        }
        #expect(status == 1)
        #expect(output.contains("owned by uid 4242"), "\(output)")
    }

    @Test func aConfigurationReachedThroughASymlinkIsRefused() throws {
        let (status, output) = try Self.daemon(config: "log_level: info\n") { directory, file in
            symlink(file, directory + "/link.yaml")
            return directory + "/link.yaml"
        }
        #expect(status == 1)
        #expect(output.contains("symbolic link"), "\(output)")
    }

    @Test func aConfigurationNestedThousandsDeepOrWithAliasesIsRefused() throws {
        let deep = try Self.daemon(config: "alerts: " + String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000) + "\n")
        #expect(deep.status == 1)
        #expect(deep.output.contains("telltale.yaml:1: nested more than 64 levels deep"), "\(deep.output)")
        let aliases = try Self.daemon(config: "interfaces: &i [lo]\nfilter: *i\n")
        #expect(aliases.status == 1)
        #expect(aliases.output.contains("telltale.yaml:1: YAML anchors and aliases"), "\(aliases.output)")
    }

    @Test(arguments: [
        ("flush_interval: 9999999h\n", "flush_interval", "106751d"),
        ("retention:\n  max_age: 106752d\n", "retention.max_age", "106751d"),
        ("retention:\n  max_size: infGiB\n", "retention.max_size", "not a finite size"),
        ("retention:\n  max_size: 9999999TiB\n", "retention.max_size", "largest size"),
        ("timeouts:\n  tcp_idle: nan\n", "timeouts.tcp_idle", "not a finite duration"),
    ])
    func anOverflowingDurationOrSizeIsRefusedWithItsLineAndLimit(_ text: String, _ key: String, _ reason: String) throws {
        let (status, output) = try Self.daemon(config: text)
        #expect(status == 1, "status \(status): \(output)")
        #expect(output.contains("telltale.yaml:"), "\(output)")
        #expect(output.contains(key) && output.contains(reason), "\(output)")
    }
}

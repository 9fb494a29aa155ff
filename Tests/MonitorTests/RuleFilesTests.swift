import Flows
import Foundation
import TestSupport
import Testing
import PacketParsing
@testable import Policy

@testable import Monitor

/// Rules, their lists and baselines read from disk: the trust checks a root daemon needs (owner,
/// modes, directories above, no symbolic links), and every problem named with its file and line.
@Suite struct RuleFilesTests {
    static let program = ProcessFacts(exe: "/usr/bin/python3.11", cmdline: "python3 tool.py", comm: "python3")

    func loadProblems(_ path: String) -> [RulesProblem] {
        do {
            _ = try RuleSet.load(path: path)
            return []
        } catch {
            return error.problems
        }
    }

    @Test func aGroupWritableRulesFileIsRefusedLikeALooseKey() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "rules: []\n", mode: 0o664)
        #expect(throws: RulesError.self) { try RuleSet.load(path: dir.path) }
        do {
            _ = try RuleSet.load(path: dir.path)
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.file == dir.path + "/10-a.yaml")
            #expect(error.problems.first?.message.contains("writable by group or others (mode 0664)") == true)
        }
    }

    @Test func aWorldWritableRulesDirectoryIsRefused() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "rules: []\n")
        chmod(dir.path, 0o777)
        do {
            _ = try RuleSet.load(path: dir.path)
            Issue.record("a world-writable directory was accepted")
        } catch {
            #expect(error.problems.map(\.file) == [dir.path])
            #expect(error.problems.first?.message.contains("directory is writable by group or others") == true)
        }
    }

    @Test func aRulesFileOwnedByAnotherUserIsRefused() throws {
        guard geteuid() == 0 else {
            print("skipped: changing a file's owner needs root")
            return
        }
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "rules: []\n")
        chown(dir.path + "/10-a.yaml", 4242, 4242)
        do {
            _ = try RuleSet.load(path: dir.path)
            Issue.record("a file of another user was accepted")
        } catch {
            #expect(error.problems.first?.message.contains("owned by uid 4242") == true)
        }
    }

    @Test func listFilesGiveDomainsAndNetworksAndTheirOwnProblemLines() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("bad.list", "# comment\nok.example\n0.0.0.0 hosts.example\n10.9.0.0/16\nnot a domain\n")
        dir.write("10-a.yaml", "classes:\n  - name: c\n    lists: [bad.list]\n")
        do {
            _ = try RuleSet.load(path: dir.path)
            Issue.record("a bad list line was accepted")
        } catch {
            #expect(error.problems == [RulesProblem(file: dir.path + "/bad.list", line: 5, message: "expected one domain or network per line")])
        }
        dir.write("bad.list", "ok.example\n0.0.0.0 hosts.example\n10.9.0.0/16\n")
        let engine = try RuleEngine(directory: dir.path)
        #expect(engine.ruleSet.classes.first?.domains == ["ok.example", "hosts.example"])
        #expect(engine.ruleSet.classes.first?.networks.map(\.description) == ["10.9.0.0/16"])
    }

    @Test func aRulesFileLargerThanTheLimitIsRefused() {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-big.yaml", "# " + String(repeating: "x", count: 5 << 20) + "\n")
        let p = loadProblems(dir.path)
        #expect(p.count == 1)
        #expect(p.first?.message.contains("larger than") == true, "\(p)")
    }

    @Test func anEmptyRulesDirectoryIsRefusedAsAPack() {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("README.md", "not rules\n")
        #expect(loadProblems(dir.path) == [RulesProblem(file: dir.path, line: nil, message: "no rules files in \(dir.path) (*.yaml or *.yml)")])
    }

    @Test func aSymlinkedRulesFileIsRefusedAndNotRead() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("target.txt", "secret-line-one\n")
        symlink(dir.path + "/target.txt", dir.path + "/10-a.yaml")
        let p = loadProblems(dir.path)
        #expect(p.count == 1)
        #expect(p.first?.file == dir.path + "/10-a.yaml")
        #expect(p.first?.message.contains("symbolic link") == true, "\(p)")
        #expect(!p.description.contains("secret-line-one"))
    }

    @Test func aSymlinkedRulesDirectoryIsRefused() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "rules: []\n")
        let link = dir.path + ".link"
        symlink(dir.path, link)
        defer { unlink(link) }
        let p = loadProblems(link)
        #expect(p.map(\.file) == [link])
        #expect(p.first?.message.contains("symbolic link") == true, "\(p)")
    }

    @Test func filesInARefusedDirectoryAreNotReadSoTheirLinesAreNeverShown() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "secret-key-from-elsewhere: 1\n")
        chmod(dir.path, 0o777)
        let p = loadProblems(dir.path)
        #expect(p.map(\.file) == [dir.path])
        #expect(!p.description.contains("secret-key-from-elsewhere"))
    }

    @Test func aRefusedRulesFileIsNotParsedSoItsLinesAreNeverShown() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "secret-key-from-elsewhere: 1\n", mode: 0o666)
        let p = loadProblems(dir.path)
        #expect(p.count == 1)
        #expect(!p.description.contains("secret-key-from-elsewhere"))
    }

    @Test func aListFileLineIsNamedByNumberAndNeverQuoted() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("shadowish.list", "root:$6$secrethash:19000:0:99999:7:::\n")
        dir.write("10-a.yaml", "classes:\n  - name: c\n    lists: [shadowish.list]\n")
        let p = loadProblems(dir.path)
        #expect(p.count == 1)
        #expect(p.first?.line == 1)
        #expect(!p.description.contains("secrethash"), "\(p)")
    }

    @Test func aWorldWritableParentDirectoryIsRefusedUnlessItIsSticky() throws {
        let outer = RulesDirectory()
        defer { outer.remove() }
        let inner = outer.path + "/rules.d"
        mkdir(inner, 0o755)
        RulesDirectory(existing: inner).write("10-a.yaml", "rules: []\n")
        chmod(outer.path, 0o777)
        let p = loadProblems(inner)
        #expect(p.map(\.file) == [outer.path], "\(p)")
        #expect(p.first?.message.contains("writable by group or others") == true, "\(p)")
        chmod(outer.path, 0o1777)
        #expect(loadProblems(inner) == [])
    }

    @Test func theOneLoaderRefusesABrokenInstalledPackAndFallsBackOnlyWhenNoneIsInstalled() throws {
        let missing = "/nonexistent-telltale-rules-\(UInt32.random(in: 0...UInt32.max))"
        let (builtIn, origin) = try RuleEngine.load(configured: nil, installed: missing)
        #expect(origin == .builtIn)
        #expect(builtIn.ruleSet.roles.contains { $0.name == "installer" })
        #expect(throws: RulesError.self) { _ = try RuleEngine.load(configured: missing) }
    }

    @Test func aReloadWithABrokenFileKeepsThePreviousRules() throws {
        let dir = RulesDirectory()
        defer { dir.remove() }
        dir.write("10-a.yaml", "roles:\n  - name: r\n    match: [{name: run}]\n    allow: [{scope: loopback}]\n")
        var engine = try RuleEngine(directory: dir.path)
        dir.write("10-a.yaml", "roles:\n  - name: r\n    match: [{name: run}]\n    allow: [{scope: nowhere}]\n")
        do {
            engine = try engine.reloaded()
            Issue.record("a broken file was loaded")
        } catch {
            #expect(error.problems.first?.line == 4)
        }
        #expect(engine.evaluate(flow(ProcessFacts(exe: "/bin/run"), to: "127.0.0.1")).verdict == .allowed)
        dir.write("10-a.yaml", "roles:\n  - name: r\n    match: [{name: run}]\n    allow: [{scope: lan}]\n")
        engine = try engine.reloaded()
        #expect(engine.evaluate(flow(ProcessFacts(exe: "/bin/run"), to: "127.0.0.1")).verdict == .alert)
    }

    @Test func aBaselineWrittenToAFileReadsBackWhole() throws {
        var baseline = Baseline()
        baseline.record(flow(Self.program, to: "198.18.0.7", host: "api.example"))
        baseline.record(flow(Self.program, to: "198.18.0.8"))
        let directory = NSTemporaryDirectory() + "tt-baseline-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/baseline.tsv"
        try Data(baseline.text(time: { String($0) }).utf8).write(to: URL(fileURLWithPath: path))
        let read = try Baseline.load(path: path, checkTrust: false, time: { Int64($0) })
        #expect(read == baseline)
        // Outside the baseline: an alert by the learning rule; inside: the rules' own decision.
        let fresh = read.check(flow(Self.program, to: "198.18.0.9"), Decision(verdict: .allowed))
        #expect(fresh.verdict == .alert && fresh.rule == Baseline.ruleID)
        #expect(read.check(flow(Self.program, to: "198.18.0.7", host: "api.example"), Decision(verdict: .allowed)).verdict == .allowed)
    }
}

private func flow(_ process: ProcessFacts?, to address: String, port: UInt16 = 443, proto: UInt8 = 6, host: String? = nil) -> FlowFacts {
    FlowFacts(process: process, remoteAddress: IPAddress(address) ?? IPAddress(v4: 0), remotePort: port, ipProtocol: proto, hostname: host)
}

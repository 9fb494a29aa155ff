import Foundation
import Testing
@testable import Policy

/// Rules files written to hurt the loader: too deep, alias bombs, symlinks, loose directories.
@Suite struct HostileRulesTests {
    func loadProblems(_ path: String) -> [RulesProblem] {
        do {
            _ = try RuleSet.load(path: path)
            return []
        } catch {
            return error.problems
        }
    }

    @Test(arguments: [
        String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n",
        "rules:\n" + (0..<2000).map { String(repeating: " ", count: $0 + 2) + "k\($0):\n" }.joined(),
        "rules: " + String(repeating: "- ", count: 50_000) + "x\n",
        "rules: " + String(repeating: "{a: ", count: 50_000) + "x" + String(repeating: "}", count: 50_000) + "\n",
    ])
    func yamlNestedThousandsOfLevelsDeepIsRefusedBeforeParsing(_ text: String) {
        let p = problems(text)
        #expect(p.count == 1)
        #expect(p.first?.message.contains("nested more than 64 levels deep") == true, "\(p)")
    }

    @Test func anAliasBombIsRefusedWithoutExpandingIt() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<40 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        let p = problems(text)
        #expect(p.count == 1)
        #expect(p.first?.line == 1)
        #expect(p.first?.message.contains("anchors and aliases") == true, "\(p)")
    }

    @Test func anAliasInTheMiddleOfAFileIsRefusedAtItsLine() {
        let p = problems("classes:\n  - name: c\n    domains: [a.example]\n  - name: d\n    domains: *x\n")
        #expect(p.map(\.line) == [5])
        #expect(p.first?.message.contains("anchors and aliases") == true, "\(p)")
    }

    @Test func starsAndAmpersandsInsideValuesAreNotAliases() throws {
        let set = try RuleSet.parse("""
            classes:
              - name: c
                domains: ["*.example", '*.other.example']
            roles:
              - name: r
                match:
                  - cmdline: python3 *.py && echo &done
                allow:
                  - class: c
            """)
        #expect(set.classes.first?.domains.count == 2)
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
}

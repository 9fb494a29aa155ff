import Foundation
import Testing
@testable import Policy

/// Rules texts written to hurt the parser: too deep, alias bombs. (Files written to hurt the
/// loader, through links and loose directories, are in MonitorTests, with the loader.)
@Suite struct HostileRulesTests {
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
}

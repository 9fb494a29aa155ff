import Foundation
import Testing
@testable import Policy

@Suite struct RuleParsingTests {
    @Test func aWellFormedFileLoadsItsRolesClassesAndRules() throws {
        let set = try RuleSet.parse("""
            roles:
              - name: runner
                match:
                  - exe: /opt/runner/bin/run
                allow:
                  - scope: loopback
            classes:
              - name: hubs
                domains: [.hub.example]
            rules:
              - name: hub-ok
                role: runner
                to: {class: hubs}
                action: allow
            """)
        #expect(set.roles.map(\.name) == ["runner"])
        #expect(set.classes.contains { $0.name == "hubs" })
        #expect(set.rules.map(\.id) == ["hub-ok"])
    }

    @Test func badYAMLNamesTheFileAndLine() {
        let p = problems("roles:\n  - name: a\n    match: [\n")
        #expect(p.count == 1)
        #expect(p.first?.file == "test.yaml")
        #expect(p.first?.line != nil)
        #expect(p.first?.message.hasPrefix("not valid YAML") == true)
    }

    @Test func anUnknownKeyIsNamedWithItsLine() {
        let p = problems("roles:\n  - name: a\n    colour: blue\n")
        #expect(p == [RulesProblem(file: "test.yaml", line: 3,
                                   message: "unknown key 'colour' in a role (expected one of: \(RuleFileParser.roleKeys.joined(separator: ", ")))")])
    }

    @Test func anUnknownTopLevelKeyIsRefused() {
        let p = problems("rulez: []\n")
        #expect(p.first?.line == 1)
        #expect(p.first?.message.contains("unknown key 'rulez'") == true)
    }

    @Test func aBadCIDRIsNamedWithItsLine() {
        let p = problems("rules:\n  - action: alert\n    to:\n      cidr: 10.0.0.0/33\n")
        #expect(p == [RulesProblem(file: "test.yaml", line: 4,
                                   message: "cidr: '10.0.0.0/33' is not an address or a CIDR network (like 10.0.0.0/8 or fd00::/8)")])
    }

    @Test func aBadRegexIsNamedWithItsLine() {
        let p = problems("roles:\n  - name: a\n    match:\n      - cmdline: 'open(webui'\n")
        #expect(p == [RulesProblem(file: "test.yaml", line: 4, message: "cmdline: 'open(webui' is not a valid regular expression")])
    }

    @Test func aBadGlobIsNamedWithItsLine() {
        let p = problems("roles:\n  - name: a\n    match:\n      - exe: '/usr/bin/[abc'\n")
        #expect(p == [RulesProblem(file: "test.yaml", line: 4, message: "exe: '/usr/bin/[abc' is not a valid glob: it has a '[' without its ']'")])
    }

    @Test func everyProblemOfAFileIsReportedNotJustTheFirst() {
        let p = problems("""
            rules:
              - action: maybe
              - action: alert
                severity: dire
                to: {scope: outer-space, port: 70000}
            """)
        #expect(p.map(\.line) == [2, 4, 5, 5])
    }

    @Test func referencesToUndeclaredRolesAndClassesAreProblems() {
        let p = problems("rules:\n  - role: ghost\n    to: {class: nowhere}\n    action: alert\n")
        #expect(Set(p.map(\.message)) == ["role 'ghost' is not declared in any rules file", "class 'nowhere' is not declared in any rules file"])
    }

    @Test func theDefaultPackLoadsWithoutProblems() throws {
        let engine = try RuleEngine(fixtureDirectory: defaultPack)
        #expect(engine.ruleSet.roles.map(\.name) == ["installer", "model-runtime", "chatbot-ui"])
        #expect(engine.ruleSet.classes.contains { $0.name == "telemetry" && $0.domains.count > 50 })
    }

    @Test func globsMatchLikeTheShell() throws {
        #expect(try Glob("*.gguf").matches("/models/tiny.gguf"))
        #expect(try !Glob("*.gguf").matches("/models/tiny.gguf.part"))
        #expect(try Glob("llama-[a-s]*").matches("llama-server"))
        #expect(try !Glob("llama-[!s]*").matches("llama-server"))
        #expect(try Glob("a?c").matches("abc"))
        #expect(throws: Glob.Problem.unclosedBracket) { try Glob("[ab") }
    }
}

/// Patterns whose matching could take exponential time are refused when the rules are read.
@Suite struct CatastrophicPatternTests {
    @Test(arguments: ["(a+)+$", "(\\w+\\s?)*x", "(?:x+y){2,}", "((ab)*c)+", "([a-z]+)*=", "(\\d*)*"])
    func aGroupThatRepeatsARepetitionIsRefused(_ pattern: String) {
        #expect(TextPattern.nestedQuantifier(in: pattern) != nil, "\(pattern)")
        let found = problems("roles:\n  - name: r\n    match: [{cmdline: '\(pattern)'}]\n")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.description.contains("exponential time") == true, "\(found)")
    }

    @Test(arguments: ["(^|\\s)-m\\s+vllm\\.entrypoints", "(ab)+", "(a|b)*c", "a+b*", "[(+]+", "\\(a+\\)+", "(x){3}", "(y+)?"])
    func ordinaryPatternsAreAccepted(_ pattern: String) {
        #expect(TextPattern.nestedQuantifier(in: pattern) == nil, "\(pattern)")
    }
}

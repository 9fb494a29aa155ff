import Foundation

/// The default rule pack, built into the executable from the repository's `rules/` directory (by
/// the EmbedRules build plugin). The daemon applies it when no rules directory is installed or
/// configured; `rules/` (and `/etc/telltale/rules.d` when installed) is the editable copy.
public enum DefaultRulePack {
    /// How the pack is named where a path would be: in log lines, `rules check`, problems.
    public static let location = "the built-in default rules"

    /// The pack's files (name relative to `rules/`, text), rules files in load order, then lists,
    /// then the run policies (`run/NAME.yaml`, which are not part of the pack).
    public static let files: [(name: String, text: String)] = defaultRulePackFiles.map { file in
        let bytes = Data(base64Encoded: file.base64) ?? Data()
        return (file.name, String(decoding: bytes, as: UTF8.self))
    }

    /// The pack as a rule set. It is checked by the test suite, so it parses; a failure names the file.
    public static func ruleSet() throws(RulesError) -> RuleSet {
        let texts = files.filter { !$0.name.contains("/") }.map { (file: "built-in:" + $0.name, text: $0.text) }
        let lists = Dictionary(
            files.filter { $0.name.hasPrefix("lists/") }.map { ($0.name, $0.text) }, uniquingKeysWith: { a, _ in a })
        return try RuleSet.assemble(texts) { file, name in
            guard let text = lists[name] else {
                return .failure(RulesProblem(file: file, line: nil, message: "list '\(name)' is not part of the built-in pack"))
            }
            return .success(("built-in:" + name, text))
        }
    }
}

/// The policies `run` and `infer` judge a command's traffic by. Each is a rule set in the rules
/// language, evaluated by the same engine as the daemon's, so `rules explain` explains a run's
/// verdict as it explains the daemon's.
public enum RunPolicy {
    /// The policies by name: `loopback-only` (the default: did anything leave this machine?) and
    /// one per built-in role, as the default rule pack gives it.
    public static let names = ["loopback-only", "model-runtime", "chatbot-ui"]

    /// The prefix of every rule a run policy names.
    public static let rulePrefix = "run/"

    /// The rule-set text of a policy (`rules/run/NAME.yaml`, built in), nil for an unknown name.
    public static func text(_ name: String) -> String? {
        guard names.contains(name) else { return nil }
        return DefaultRulePack.files.first { $0.name == "run/\(name).yaml" }?.text
    }

    /// The engine for a policy; nil for an unknown name.
    public static func engine(_ name: String) -> RuleEngine? {
        guard let text = text(name), let rules = try? RuleSet.parse(text, file: "built-in:run/\(name).yaml") else { return nil }
        return RuleEngine(rules: rules, path: nil)
    }

    /// The policy that decided a flow, from the rule stored with it (`run/NAME` or `run/NAME/outside`).
    public static func name(ofRule rule: String?) -> String? {
        guard let rule, rule.hasPrefix(rulePrefix) else { return nil }
        let name = rule.dropFirst(rulePrefix.count).split(separator: "/").first.map(String.init)
        return name.flatMap { names.contains($0) ? $0 : nil }
    }
}

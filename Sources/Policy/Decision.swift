public import Flows

/// The engine's answer for one flow.
public struct Decision: Sendable, Hashable {
    /// The role of the flow's process, if one matched.
    public var role: String?
    public var verdict: Verdict
    /// The stable id of the deciding rule: its `name`, or `FILE:LINE` of the rule or allow entry, or
    /// `ROLE/default` when a role's fallback decided. Nil when nothing decided (unrated).
    public var rule: String?
    /// Set when the verdict is `alert`.
    public var severity: Severity?
    /// Tags of the destination classes the flow reached (e.g. `telemetry`) and of the deciding rule.
    public var tags: [String]
    /// A sentence for people, from the rule's `message` or made up from the rule.
    public var message: String?
    /// How the role was given: by a matcher, or by what the program did (a relation).
    public var roleSource: RoleSource?

    public init(role: String? = nil, verdict: Verdict = .unrated, rule: String? = nil, severity: Severity? = nil,
                tags: [String] = [], message: String? = nil) {
        self.role = role
        self.verdict = verdict
        self.rule = rule
        self.severity = severity
        self.tags = tags
        self.message = message
    }
}

/// Where a process's role came from: the contract's `role_source`.
public enum RoleSource: String, Sendable, Hashable {
    /// A matcher of the role held (program, executable, command line, …).
    case matcher
    /// No matcher held, but the program called a model runtime's API over loopback: a chat client.
    case relation
    /// A run's policy file gave it.
    case ruleFile = "rule-file"
}

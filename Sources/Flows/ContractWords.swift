/// The words of the JSON contract that say what was decided about a flow, typed once here beside
/// the flow types; they become text only at the edges (SQL, JSON, CSV, Zeek).

/// How serious an alert is, from least to most.
public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    var rank: Int {
        switch self {
        case .info: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// What policy says about a flow; the JSON contract's `verdict`.
public enum Verdict: String, Sendable, Hashable, CaseIterable {
    case allowed, alert, unrated
}

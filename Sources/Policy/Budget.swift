public import Flows
public import PacketParsing
import Reporting

/// An upload budget: how many bytes a role or a program may send to some scopes (the internet by
/// default) in each window of time. Crossing it raises one alert per window, rule `budget/NAME`.
public struct Budget: Sendable {
    /// `budget/` and the role's or the budget's name.
    public var id: String
    var location: SourceLocation
    /// The role it holds for, or nil when it names programs.
    public var role: String?
    /// Program names (as people know them: `open-webui`) and executable paths it holds for.
    var programs: [Glob] = []
    var exes: [Glob] = []
    /// Bytes out allowed per window.
    public var bytesOut: Int64
    /// The window, in nanoseconds; windows are aligned to multiples of it (whole hours, UTC days).
    public var period: Int64
    public var scopes: Set<AddressScope> = [.internet]
    public var severity: Severity = .medium

    /// Whether a flow of this process, in this role, to this scope counts against the budget.
    public func counts(role flowRole: String?, program: String?, exe: String?, scope: AddressScope) -> Bool {
        guard scopes.contains(scope) else { return false }
        if let role { return role == flowRole }
        if let program, programs.contains(where: { $0.matches(program) }) { return true }
        if let exe, exes.contains(where: { $0.matches(exe) }) { return true }
        return false
    }

    /// The budget as it reads in a rules file: `50 MB per 1h to internet`.
    public var summary: String {
        "\(Budget.sizeText(bytesOut)) per \(Quantity.durationText(period)) to \(scopes.map(\.rawValue).sorted().joined(separator: ", "))"
    }

    static func sizeText(_ bytes: Int64) -> String {
        for (unit, scale) in [("GB", Int64(1_000_000_000)), ("MB", 1_000_000), ("kB", 1_000)] where bytes >= scale && bytes % scale == 0 {
            return "\(bytes / scale) \(unit)"
        }
        for (unit, scale) in [("GiB", Int64(1) << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= scale && bytes % scale == 0 {
            return "\(bytes / scale) \(unit)"
        }
        return "\(bytes) B"
    }
}

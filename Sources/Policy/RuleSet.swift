import Flows
import PacketParsing
import Foundation

/// Where something was declared: a rules file (its name inside the rules directory) and a line.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var description: String { "\(file):\(line)" }
}

/// A compiled regular expression from a rules file.
///
/// `@unchecked Sendable`: NSRegularExpression is immutable once built and documented as safe to
/// use from several threads at once.
struct TextPattern: @unchecked Sendable, CustomStringConvertible {
    let source: String
    let regex: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        regex = try NSRegularExpression(pattern: source, options: [])
    }

    func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, options: [], range: NSRange(location: 0, length: text.utf16.count)) != nil
    }

    var description: String { source }

    /// The first group that repeats and holds a repetition itself (`(a+)+`, `(\\w*\\s?)*`,
    /// `(?:x+y){2,}`): the shape that makes a backtracking engine take exponential time on text
    /// that almost matches. Nil when there is none.
    static func nestedQuantifier(in pattern: String) -> String? {
        let characters = Array(pattern)
        /// Open groups: where each began and whether a quantifier was seen inside it.
        var open: [(start: Int, repeats: Bool)] = []
        var index = 0
        var inClass = false
        func isRepeat(at position: Int) -> Bool {
            guard position < characters.count else { return false }
            switch characters[position] {
            case "*", "+": return true
            case "{":
                // {n,} or {n,m} with m > 1 repeat; {n} and {0,1} do not.
                guard let close = characters[position...].firstIndex(of: "}") else { return false }
                let body = String(characters[(position + 1)..<close])
                let parts = body.split(separator: ",", omittingEmptySubsequences: false)
                if parts.count == 2 { return parts[1].isEmpty || (Int(parts[1]) ?? 0) > 1 }
                return (Int(body) ?? 0) > 1
            default: return false
            }
        }
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                index += 2
                // An escaped atom followed by a quantifier repeats inside the enclosing group.
                if isRepeat(at: index), !open.isEmpty { open[open.count - 1].repeats = true }
                continue
            }
            if inClass {
                if character == "]" {
                    inClass = false
                    if isRepeat(at: index + 1), !open.isEmpty { open[open.count - 1].repeats = true }
                }
                index += 1
                continue
            }
            switch character {
            case "[":
                inClass = true
            case "(":
                open.append((index, false))
            case ")":
                guard let group = open.popLast() else { break }
                if group.repeats && isRepeat(at: index + 1) {
                    return String(characters[group.start...min(index + 1, characters.count - 1)])
                }
                // A group that repeats inside makes its enclosing group repeat inside too.
                if (group.repeats || isRepeat(at: index + 1)), !open.isEmpty { open[open.count - 1].repeats = true }
            default:
                if isRepeat(at: index + 1), !open.isEmpty { open[open.count - 1].repeats = true }
            }
            index += 1
        }
        return nil
    }
}

/// An inclusive range of ports.
struct PortRange: Sendable, Hashable, CustomStringConvertible {
    var lower: UInt16
    var upper: UInt16
    func contains(_ port: UInt16) -> Bool { port >= lower && port <= upper }
    var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}

/// Conditions on the parent or an ancestor process (only their exe and cmdline are known).
struct AncestorMatcher: Sendable {
    var exe: [Glob] = []
    var name: [Glob] = []
    var cmdline: [TextPattern] = []

    func matches(exe path: String?, cmdline line: String?) -> Bool {
        if !exe.isEmpty || !name.isEmpty {
            guard let path else { return false }
            let facts = ProcessFacts(exe: path)
            if !exe.isEmpty && !ProcessMatcher.exeMatches(exe, facts) { return false }
            if !name.isEmpty && !name.contains(where: { g in facts.exeName.map { g.matches($0) } ?? false }) { return false }
        }
        if !cmdline.isEmpty {
            guard let line, cmdline.contains(where: { $0.matches(line) }) else { return false }
        }
        return true
    }
}

/// Conditions on a process: every key given must hold; a key's list holds when any value does.
public struct ProcessMatcher: Sendable {
    var location: SourceLocation
    /// Patterns with a slash match the whole path; without one, the executable's file name.
    var exe: [Glob] = []
    /// The executable's file name or the process's `comm`.
    var name: [Glob] = []
    /// What a person calls the program (`open-webui`, `llama_cpp.server`): its program identity.
    var program: [Glob] = []
    /// How the program identity was read (`console-script`, `module`, `node-package`, …).
    var programKind: [String] = []
    var sha256: Set<String> = []
    var cmdline: [TextPattern] = []
    var parent: AncestorMatcher?
    var ancestor: AncestorMatcher?
    /// User names, or numeric uids as text.
    var user: [String] = []
    var unit: [Glob] = []
    /// `true`: in any container; `false`: in none; globs: a container id.
    var inContainer: Bool?
    var container: [Glob] = []
    var listeningPort: [PortRange] = []
    var openFile: [Glob] = []

    static func exeMatches(_ globs: [Glob], _ p: ProcessFacts) -> Bool {
        guard let path = p.exePath, let name = p.exeName else { return false }
        return globs.contains { g in g.pattern.contains("/") ? g.matches(path) : g.matches(name) }
    }

    func matches(_ p: ProcessFacts) -> Bool {
        if !sha256.isEmpty {
            guard let hash = p.sha256, sha256.contains(hash.lowercased()) else { return false }
        }
        if !exe.isEmpty && !ProcessMatcher.exeMatches(exe, p) { return false }
        if !name.isEmpty {
            let ok = name.contains { g in
                (p.exeName.map { g.matches($0) } ?? false) || (p.comm.map { g.matches($0) } ?? false)
            }
            if !ok { return false }
        }
        if !program.isEmpty {
            guard let name = p.program, program.contains(where: { $0.matches(name) }) else { return false }
        }
        if !programKind.isEmpty {
            guard let kind = p.programKind, programKind.contains(kind) else { return false }
        }
        if !user.isEmpty {
            let ok = user.contains { u in u == p.user || (p.uid.map { String($0) == u } ?? false) }
            if !ok { return false }
        }
        if !unit.isEmpty {
            guard let u = p.unit, unit.contains(where: { $0.matches(u) }) else { return false }
        }
        if let inContainer, (p.container?.isEmpty == false) != inContainer { return false }
        if !container.isEmpty {
            guard let c = p.container, container.contains(where: { $0.matches(c) }) else { return false }
        }
        if !listeningPort.isEmpty {
            guard p.listeningPorts.contains(where: { port in listeningPort.contains { $0.contains(port) } }) else { return false }
        }
        if !openFile.isEmpty {
            guard p.openFiles.contains(where: { f in openFile.contains { $0.matches(f) } }) else { return false }
        }
        if let parent, !parent.matches(exe: p.parentExe, cmdline: p.parentCmdline) { return false }
        if let ancestor {
            var found = ancestor.matches(exe: p.parentExe, cmdline: p.parentCmdline)
            var i = 0
            while !found && (i < p.ancestorExes.count || i < p.ancestorCmdlines.count) {
                found = ancestor.matches(
                    exe: i < p.ancestorExes.count ? p.ancestorExes[i] : nil,
                    cmdline: i < p.ancestorCmdlines.count ? p.ancestorCmdlines[i] : nil)
                i += 1
            }
            if !found { return false }
        }
        if !cmdline.isEmpty {
            // Last: the regular expressions are the costliest test.
            guard let line = p.cmdline, cmdline.contains(where: { $0.matches(line) }) else { return false }
        }
        return true
    }
}

/// Conditions on the destination: every key given must hold; the destination sets (named classes
/// and inline domains, networks and lists) hold when the destination is in any of them.
public struct DestinationSelector: Sendable {
    var location: SourceLocation
    var scopes: Set<AddressScope>?
    var ports: [PortRange]?
    var protocols: Set<UInt8>?
    /// Roles the process at the other end must hold (a loopback flow's server, a local container).
    var peerRoles: Set<String>?
    /// Destination classes (named ones, and one anonymous class for inline domains/networks/lists).
    var classes: [Int32] = []
    var classNames: [String] = []
    /// Inline domains, networks and lists, turned into an anonymous class when the set is finished.
    var inlineClass: DestinationClass?
}

/// What a rule does with a flow it matches.
public enum RuleAction: String, Sendable {
    case allow, alert
}

/// A named set of destinations: domains, networks and list files; `tag` marks flows that reach it.
public struct DestinationClass: Sendable {
    public var name: String
    var location: SourceLocation
    var domains: [String] = []
    var networks: [IPNetwork] = []
    public var tag: String?
    var anonymous = false
}

/// A role: who belongs to it (matchers) and what it may reach (allow entries); anything else gets
/// `otherwise`.
public struct Role: Sendable {
    public var name: String
    var location: SourceLocation
    var description: String?
    var priority: Int = 0
    var matchers: [ProcessMatcher] = []
    var allow: [DestinationSelector] = []
    var otherwise: Verdict?
    var severity: Severity = .high
    /// Its upload budget, when it has one.
    var budget: Budget?
    /// The fallback in force: `otherwise`, or alert when the role lists allowed destinations.
    var fallback: Verdict { otherwise ?? (allow.isEmpty ? .unrated : .alert) }
}

/// A policy rule: for whom (program conditions, a role, or everyone), to where, and what happens.
public struct Rule: Sendable {
    /// Precedence tier: program rules first, then role rules, role allow lists, rules for everyone.
    enum Tier: Int, Sendable, Comparable {
        case program = 0, role = 1, roleAllow = 2, everyone = 3, roleDefault = 4
        static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
        var title: String {
            switch self {
            case .program: "program rule"
            case .role: "role rule"
            case .roleAllow: "role allows"
            case .everyone: "rule for every flow"
            case .roleDefault: "role fallback"
            }
        }
    }

    var name: String?
    var location: SourceLocation
    var role: String?
    var subject: ProcessMatcher?
    /// Empty: any destination.
    var to: [DestinationSelector] = []
    var action: RuleAction
    var severity: Severity?
    var tags: [String] = []
    var message: String?
    var tier: Tier { subject != nil ? .program : role != nil ? .role : .everyone }
    /// The id flows and alerts carry.
    public var id: String { name ?? location.description }
}

/// Everything the rules files declared, in load order, before indexing.
public struct RuleSet: Sendable {
    public internal(set) var roles: [Role] = []
    public internal(set) var classes: [DestinationClass] = []
    public internal(set) var rules: [Rule] = []
    /// Upload budgets of the top-level `budgets:` list (a role's own is on the role).
    public internal(set) var budgets: [Budget] = []
    /// Every budget in force: the roles' own, then the list's.
    public var allBudgets: [Budget] { roles.compactMap(\.budget) + budgets }
    /// Networks whose scope the rules change, most specific first.
    var rescoped: [(IPNetwork, AddressScope)] = []
    /// The files read, in order.
    public internal(set) var files: [String] = []

    public init() {}

    func classIndex(named name: String) -> Int32? {
        classes.firstIndex { $0.name == name && !$0.anonymous }.map { Int32($0) }
    }
}

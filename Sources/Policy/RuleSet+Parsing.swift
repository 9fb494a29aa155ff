import Flows
import PacketParsing
import Reporting
import Yams

/// Reads one rules file into a `RuleSet`, collecting every problem with its line rather than
/// stopping at the first.
struct RuleFileParser {
    /// The file's name as problems show it.
    let file: String
    /// Reads a list file named in the rules (relative to the rules file); nil with a problem when unreadable.
    let readList: (String) -> Result<(name: String, text: String), RulesProblem>
    var problems: [RulesProblem] = []
    /// Class names used by selectors, checked once every file is read.
    var classReferences: [(String, SourceLocation)] = []
    var roleReferences: [(String, SourceLocation)] = []

    static let topKeys = ["roles", "classes", "rules", "rescope", "budgets"]
    static let roleKeys = ["name", "description", "priority", "severity", "match", "allow", "otherwise", "budget"]
    static let budgetKeys = ["name", "role", "program", "exe", "bytes_out", "per", "scope", "severity"]
    static let matcherKeys = [
        "exe", "name", "program", "program_kind", "sha256", "cmdline", "parent", "ancestor", "user", "unit", "container", "listening_port",
        "open_file",
    ]
    static let ancestorKeys = ["exe", "name", "cmdline"]
    static let selectorKeys = ["scope", "cidr", "domain", "port", "proto", "class", "list", "peer_role"]
    static let classKeys = ["name", "description", "domains", "networks", "lists", "tag"]
    static let ruleKeys = ["name", "role", "match", "to", "action", "severity", "tag", "message"]
    static let rescopeKeys = ["cidr", "scope"]

    init(file: String, readList: @escaping (String) -> Result<(name: String, text: String), RulesProblem>) {
        self.file = file
        self.readList = readList
    }

    func location(_ node: Node) -> SourceLocation {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        return SourceLocation(file: name, line: node.mark?.line ?? 0)
    }

    mutating func problem(_ node: Node, _ message: String) {
        problems.append(RulesProblem(file: file, line: node.mark?.line, message: message))
    }

    mutating func parse(_ text: String, into set: inout RuleSet) {
        do {
            try YAMLBounds.check(text)
        } catch {
            problems.append(RulesProblem(file: file, line: error.line, message: error.description))
            return
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            var line: Int?
            var what = "\(error)"
            switch error {
            case .scanner(_, let p, let mark, _), .parser(_, let p, let mark, _), .composer(_, let p, let mark, _):
                line = mark.line
                what = p
            default: break
            }
            problems.append(RulesProblem(file: file, line: line, message: "not valid YAML: \(what)"))
            return
        } catch {
            problems.append(RulesProblem(file: file, line: nil, message: "not valid YAML: \(error)"))
            return
        }
        guard let root else { return }  // an empty file declares nothing
        guard let mapping = root.mapping else {
            problem(root, "expected a mapping with roles, classes, rules or rescope at the top level")
            return
        }
        for (keyNode, value) in mapping {
            guard let key = knownKey(keyNode, Self.topKeys, in: "the top level") else { continue }
            switch key {
            case "roles": for item in items(value, "roles") { if let r = role(item) { merge(r, into: &set) } }
            case "classes": for item in items(value, "classes") { if let c = destinationClass(item) { set.classes.append(c) } }
            case "rules": for item in items(value, "rules") { if let r = rule(item, &set) { set.rules.append(r) } }
            case "rescope": for item in items(value, "rescope") { rescope(item, &set) }
            case "budgets": for item in items(value, "budgets") { if let b = budget(item, role: nil) { set.budgets.append(b) } }
            default: break
            }
        }
    }

    // MARK: Nodes

    /// A key's name when it is one of `allowed`; a precise problem otherwise.
    mutating func knownKey(_ node: Node, _ allowed: [String], in context: String) -> String? {
        guard let key = node.string else {
            problem(node, "a key in \(context) must be text")
            return nil
        }
        guard allowed.contains(key) else {
            problem(node, "unknown key '\(key)' in \(context) (expected one of: \(allowed.joined(separator: ", ")))")
            return nil
        }
        return key
    }

    /// The elements of a sequence, or the node itself when it is a single mapping.
    mutating func items(_ node: Node, _ what: String) -> [Node] {
        if let sequence = node.sequence { return Array(sequence) }
        if node.mapping != nil { return [node] }
        if node.null != nil { return [] }
        problem(node, "\(what): expected a list")
        return []
    }

    /// A scalar or a list of scalars, as text.
    mutating func strings(_ node: Node, _ key: String) -> [String]? {
        if case .scalar(let s) = node {
            guard !s.string.isEmpty else {
                problem(node, "\(key): must not be empty")
                return nil
            }
            return [s.string]
        }
        if let sequence = node.sequence {
            var out: [String] = []
            for item in sequence {
                guard case .scalar(let s) = item, !s.string.isEmpty else {
                    problem(item, "\(key): each entry must be a non-empty value")
                    return nil
                }
                out.append(s.string)
            }
            return out
        }
        problem(node, "\(key): expected a value or a list of values")
        return nil
    }

    mutating func text(_ node: Node, _ key: String) -> String? {
        guard case .scalar(let s) = node, !s.string.isEmpty else {
            problem(node, "\(key): expected text")
            return nil
        }
        return s.string
    }

    mutating func globs(_ node: Node, _ key: String, caseInsensitive: Bool = false) -> [Glob] {
        guard let values = strings(node, key) else { return [] }
        var out: [Glob] = []
        for v in values {
            do {
                out.append(try Glob(v, caseInsensitive: caseInsensitive))
            } catch {
                let why: String
                switch error {
                case .empty: why = "is empty"
                case .unclosedBracket: why = "has a '[' without its ']'"
                case .emptyBracket: why = "has an empty '[]'"
                case .trailingBackslash: why = "ends with a lone '\\'"
                }
                problem(node, "\(key): '\(v)' is not a valid glob: it \(why)")
            }
        }
        return out
    }

    mutating func patterns(_ node: Node, _ key: String) -> [TextPattern] {
        guard let values = strings(node, key) else { return [] }
        var out: [TextPattern] = []
        for v in values {
            if let nested = TextPattern.nestedQuantifier(in: v) {
                problem(node, "\(key): '\(v)' repeats a group that repeats itself ('\(nested)'): matching it can take exponential time on a long command line; rewrite it without the nested repetition")
                continue
            }
            do {
                out.append(try TextPattern(v))
            } catch {
                problem(node, "\(key): '\(v)' is not a valid regular expression")
            }
        }
        return out
    }

    mutating func ports(_ node: Node, _ key: String) -> [PortRange] {
        guard let values = strings(node, key) else { return [] }
        var out: [PortRange] = []
        for v in values {
            let parts = v.split(separator: "-", omittingEmptySubsequences: false)
            if parts.count == 1, let p = UInt16(v) {
                out.append(PortRange(lower: p, upper: p))
            } else if parts.count == 2, let a = UInt16(parts[0]), let b = UInt16(parts[1]), a <= b {
                out.append(PortRange(lower: a, upper: b))
            } else {
                problem(node, "\(key): '\(v)' is not a port (0-65535) or a range like 8000-8100")
            }
        }
        return out
    }

    mutating func severity(_ node: Node) -> Severity? {
        guard let t = text(node, "severity") else { return nil }
        guard let s = Severity(rawValue: t) else {
            problem(node, "severity: '\(t)' is not one of info, low, medium, high, critical")
            return nil
        }
        return s
    }

    mutating func scope(_ node: Node, _ text: String) -> AddressScope? {
        guard let s = AddressScope(rawValue: text) else {
            problem(node, "scope: '\(text)' is not one of loopback, link-local, lan, multicast, internet")
            return nil
        }
        return s
    }

    mutating func network(_ node: Node, _ text: String, _ key: String) -> IPNetwork? {
        guard let n = IPNetwork(text) else {
            problem(node, "\(key): '\(text)' is not an address or a CIDR network (like 10.0.0.0/8 or fd00::/8)")
            return nil
        }
        return n
    }

    // MARK: Declarations

    mutating func role(_ node: Node) -> Role? {
        guard let mapping = node.mapping else {
            problem(node, "a role must be a mapping with a name")
            return nil
        }
        var r = Role(name: "", location: location(node))
        var pendingBudget: Node?
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.roleKeys, in: "a role") else { continue }
            switch key {
            case "name": r.name = text(v, "name") ?? ""
            case "description": r.description = text(v, "description")
            case "priority":
                if let p = v.int { r.priority = p } else { problem(v, "priority: expected a whole number") }
            case "severity": if let s = severity(v) { r.severity = s }
            case "match":
                for item in items(v, "match") { if let m = matcher(item) { r.matchers.append(m) } }
            case "allow":
                for item in items(v, "allow") { if let s = selector(item) { r.allow.append(s) } }
            case "budget":
                pendingBudget = v
            case "otherwise":
                guard let t = text(v, "otherwise") else { continue }
                switch t {
                case "alert": r.otherwise = .alert
                case "allow", "allowed": r.otherwise = .allowed
                case "unrated": r.otherwise = .unrated
                default: problem(v, "otherwise: '\(t)' is not one of alert, allow, unrated")
                }
            default: break
            }
        }
        guard !r.name.isEmpty else {
            problem(node, "a role needs a name")
            return nil
        }
        if let pendingBudget { r.budget = budget(pendingBudget, role: r.name) }
        return r
    }

    /// An upload budget: in a role (`budget:`, for the role), or in the top-level `budgets:` list
    /// (for a role, or for programs by name or executable).
    mutating func budget(_ node: Node, role: String?) -> Budget? {
        guard let mapping = node.mapping else {
            problem(node, "a budget must be a mapping such as {bytes_out: 50MB, per: 1h, scope: [internet]}")
            return nil
        }
        var name: String?
        var forRole = role
        var programs: [Glob] = [], exes: [Glob] = []
        var bytes: Int64?, period: Int64?
        var scopes: Set<AddressScope> = [.internet]
        var severity = Severity.medium
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.budgetKeys, in: "a budget") else { continue }
            switch key {
            case "name": name = text(v, "name")
            case "role":
                if role != nil { problem(v, "role: a role's own budget holds for the role; give role only in the top-level budgets list") }
                forRole = text(v, "role")
            case "program": programs = globs(v, "program")
            case "exe": exes = globs(v, "exe")
            case "bytes_out":
                guard let t = v.string else { problem(v, "bytes_out: expected a size such as 50MB"); continue }
                do {
                    let b = try Quantity.size(t)
                    if b > 0 { bytes = b } else { problem(v, "bytes_out: expected a size larger than zero, such as 50MB") }
                } catch { problem(v, "bytes_out: \(error)") }
            case "per":
                guard let t = v.string else { problem(v, "per: expected a duration such as 1h"); continue }
                do { period = try Quantity.duration(t, within: 60_000_000_000...(31 * 86_400_000_000_000)) } catch { problem(v, "per: \(error)") }
            case "scope":
                scopes = Set((strings(v, "scope") ?? []).compactMap { scope(v, $0) })
                if scopes.isEmpty { problem(v, "scope: expected one or more of loopback, link-local, lan, multicast, internet") }
            case "severity": if let s = self.severity(v) { severity = s }
            default: break
            }
        }
        guard let bytes else { problem(node, "a budget needs bytes_out (such as 50MB)"); return nil }
        guard let period else { problem(node, "a budget needs per (the window, such as 1h or 1d)"); return nil }
        if forRole == nil && programs.isEmpty && exes.isEmpty {
            problem(node, "a budget in the budgets list needs role, program or exe: whose uploads it counts")
            return nil
        }
        if forRole != nil && (!programs.isEmpty || !exes.isEmpty) {
            problem(node, "a budget holds for a role or for programs, not both")
            return nil
        }
        let label = name ?? forRole ?? programs.first?.pattern ?? exes.first?.pattern ?? "?"
        return Budget(
            id: "budget/" + label, location: location(node), role: forRole, programs: programs, exes: exes, bytesOut: bytes,
            period: period, scopes: scopes, severity: severity)
    }

    /// A later declaration of a role extends it: matchers and allow entries add up, scalars given replace.
    func merge(_ role: Role, into set: inout RuleSet) {
        guard let i = set.roles.firstIndex(where: { $0.name == role.name }) else {
            set.roles.append(role)
            return
        }
        set.roles[i].matchers += role.matchers
        set.roles[i].allow += role.allow
        if role.otherwise != nil { set.roles[i].otherwise = role.otherwise }
        if role.description != nil { set.roles[i].description = role.description }
        if role.priority != 0 { set.roles[i].priority = role.priority }
        if role.severity != .high { set.roles[i].severity = role.severity }
        if role.budget != nil { set.roles[i].budget = role.budget }
    }

    mutating func ancestor(_ node: Node, _ key: String) -> AncestorMatcher? {
        if case .scalar = node {
            // A bare value is an executable glob.
            return AncestorMatcher(exe: globs(node, key))
        }
        guard let mapping = node.mapping else {
            problem(node, "\(key): expected an exe glob or a mapping with exe, name or cmdline")
            return nil
        }
        var a = AncestorMatcher()
        for (k, v) in mapping {
            guard let sub = knownKey(k, Self.ancestorKeys, in: key) else { continue }
            switch sub {
            case "exe": a.exe = globs(v, "\(key).exe")
            case "name": a.name = globs(v, "\(key).name")
            case "cmdline": a.cmdline = patterns(v, "\(key).cmdline")
            default: break
            }
        }
        return a
    }

    mutating func matcher(_ node: Node) -> ProcessMatcher? {
        guard let mapping = node.mapping, mapping.count > 0 else {
            problem(node, "a matcher must be a mapping of conditions (\(Self.matcherKeys.joined(separator: ", ")))")
            return nil
        }
        var m = ProcessMatcher(location: location(node))
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.matcherKeys, in: "a process matcher") else { continue }
            switch key {
            case "exe": m.exe = globs(v, key)
            case "name": m.name = globs(v, key)
            case "program": m.program = globs(v, key)
            case "program_kind": m.programKind = strings(v, key) ?? []
            case "sha256":
                for h in strings(v, key) ?? [] {
                    let lower = h.lowercased()
                    if lower.utf8.count == 64, lower.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
                        m.sha256.insert(lower)
                    } else {
                        problem(v, "sha256: '\(h)' is not 64 hexadecimal digits")
                    }
                }
            case "cmdline": m.cmdline = patterns(v, key)
            case "parent": m.parent = ancestor(v, key)
            case "ancestor": m.ancestor = ancestor(v, key)
            case "user": m.user = strings(v, key) ?? []
            case "unit": m.unit = globs(v, key)
            case "container":
                if let b = v.bool, case .scalar(let s) = v, ["true", "false", "yes", "no"].contains(s.string) {
                    m.inContainer = b
                } else {
                    m.container = globs(v, key)
                }
            case "listening_port": m.listeningPort = ports(v, key)
            case "open_file": m.openFile = globs(v, key)
            default: break
            }
        }
        return m
    }

    mutating func selector(_ node: Node) -> DestinationSelector? {
        guard let mapping = node.mapping, mapping.count > 0 else {
            problem(node, "a destination must be a mapping of conditions (\(Self.selectorKeys.joined(separator: ", ")))")
            return nil
        }
        var s = DestinationSelector(location: location(node))
        var inline = DestinationClass(name: "", location: location(node), anonymous: true)
        var hasInline = false
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.selectorKeys, in: "a destination") else { continue }
            switch key {
            case "scope":
                var scopes = Set<AddressScope>()
                for t in strings(v, key) ?? [] { if let sc = scope(v, t) { scopes.insert(sc) } }
                s.scopes = scopes
            case "cidr":
                hasInline = true
                for t in strings(v, key) ?? [] { if let n = network(v, t, key) { inline.networks.append(n) } }
            case "domain":
                hasInline = true
                for t in strings(v, key) ?? [] { if let d = domain(v, t, key) { inline.domains.append(d) } }
            case "port": s.ports = ports(v, key)
            case "proto":
                var protocols = Set<UInt8>()
                for t in strings(v, key) ?? [] {
                    if let p = Self.protocolNumber(t) { protocols.insert(p) } else {
                        problem(v, "proto: '\(t)' is not tcp, udp, icmp, icmpv6, sctp or a protocol number")
                    }
                }
                s.protocols = protocols
            case "class":
                for t in strings(v, key) ?? [] {
                    s.classNames.append(t)
                    classReferences.append((t, location(v)))
                }
            case "list":
                hasInline = true
                for t in strings(v, key) ?? [] { readListFile(t, location(v), into: &inline) }
            case "peer_role":
                let roles = strings(v, key) ?? []
                for role in roles { roleReferences.append((role, location(v))) }
                s.peerRoles = Set(roles)
            default: break
            }
        }
        if hasInline { s.inlineClass = inline }
        return s
    }

    static func protocolNumber(_ text: String) -> UInt8? {
        switch text.lowercased() {
        case "tcp": 6
        case "udp": 17
        case "icmp": 1
        case "icmpv6", "ipv6-icmp": 58
        case "sctp": 132
        default: UInt8(text)
        }
    }

    /// Validates a domain pattern: letters, digits, '-', '_', '.', and glob characters; lowercased.
    mutating func domain(_ node: Node, _ text: String, _ key: String) -> String? {
        if let problem = Self.domainProblem(text) {
            self.problem(node, "\(key): '\(text)' \(problem)")
            return nil
        }
        return Self.normalizedDomain(text)
    }

    static func normalizedDomain(_ text: String) -> String {
        var t = text.lowercased()
        if t.hasSuffix(".") && t.count > 1 { t.removeLast() }
        return t
    }

    static func domainProblem(_ text: String) -> String? {
        guard !text.isEmpty else { return "is empty" }
        for b in text.utf8 {
            let ok = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "*")
                || b == UInt8(ascii: "?") || b == UInt8(ascii: "[") || b == UInt8(ascii: "]") || b == UInt8(ascii: "!")
            if !ok { return "is not a domain name or a domain glob (like *.example.com)" }
        }
        if (try? Glob(text)) == nil { return "is not a valid domain glob" }
        return nil
    }

    /// Reads a list file: one domain (pattern) or network per line, `#` comments; hosts-file lines
    /// (`0.0.0.0 name`) give their name.
    mutating func readListFile(_ path: String, _ at: SourceLocation, into target: inout DestinationClass) {
        let name: String, text: String
        switch readList(path) {
        case .success(let read): (name, text) = read
        case .failure(let p):
            problems.append(RulesProblem(file: file, line: at.line, message: "list '\(path)': \(p.message)"))
            return
        }
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = raw
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard !fields.isEmpty else { continue }
            var entry = fields[0]
            if fields.count == 2, IPAddress(fields[0]) != nil { entry = fields[1] }
            else if fields.count > 1 {
                problems.append(RulesProblem(file: name, line: lineNumber, message: "expected one domain or network per line"))
                continue
            }
            if entry.contains(":") || entry.contains("/") || IPAddress(entry) != nil {
                if let n = IPNetwork(entry) { target.networks.append(n) } else {
                    problems.append(RulesProblem(file: name, line: lineNumber, message: "the entry is not an address or a CIDR network"))
                }
            } else if let p = Self.domainProblem(String(entry)) {
                // The line is not quoted: a list can be any readable file, and its text is not ours to show.
                problems.append(RulesProblem(file: name, line: lineNumber, message: "the entry \(p)"))
            } else {
                target.domains.append(Self.normalizedDomain(String(entry)))
            }
        }
    }

    mutating func destinationClass(_ node: Node) -> DestinationClass? {
        guard let mapping = node.mapping else {
            problem(node, "a class must be a mapping with a name")
            return nil
        }
        var c = DestinationClass(name: "", location: location(node))
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.classKeys, in: "a class") else { continue }
            switch key {
            case "name": c.name = text(v, key) ?? ""
            case "description": break
            case "domains": for t in strings(v, key) ?? [] { if let d = domain(v, t, key) { c.domains.append(d) } }
            case "networks": for t in strings(v, key) ?? [] { if let n = network(v, t, key) { c.networks.append(n) } }
            case "lists": for t in strings(v, key) ?? [] { readListFile(t, location(v), into: &c) }
            case "tag": c.tag = text(v, key)
            default: break
            }
        }
        guard !c.name.isEmpty else {
            problem(node, "a class needs a name")
            return nil
        }
        return c
    }

    mutating func rule(_ node: Node, _ set: inout RuleSet) -> Rule? {
        guard let mapping = node.mapping else {
            problem(node, "a rule must be a mapping (\(Self.ruleKeys.joined(separator: ", ")))")
            return nil
        }
        var r = Rule(location: location(node), action: .alert)
        var hasAction = false
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.ruleKeys, in: "a rule") else { continue }
            switch key {
            case "name": r.name = text(v, key)
            case "role":
                r.role = text(v, key)
                if let role = r.role { roleReferences.append((role, location(v))) }
            case "match": r.subject = matcher(v)
            case "to": for item in items(v, "to") { if let s = selector(item) { r.to.append(s) } }
            case "action":
                hasAction = true
                guard let t = text(v, key) else { continue }
                if let a = RuleAction(rawValue: t) {
                    r.action = a
                } else {
                    problem(v, "action: '\(t)' is not allow or alert")
                }
            case "severity": r.severity = severity(v)
            case "tag": r.tags = strings(v, key) ?? []
            case "message": r.message = text(v, key)
            default: break
            }
        }
        if !hasAction { problem(node, "a rule needs an action (allow or alert)") }
        return problems.isEmpty ? r : nil
    }

    mutating func rescope(_ node: Node, _ set: inout RuleSet) {
        guard let mapping = node.mapping else {
            problem(node, "rescope: each entry must be a mapping with cidr and scope")
            return
        }
        var networks: [IPNetwork] = []
        var target: AddressScope?
        for (k, v) in mapping {
            guard let key = knownKey(k, Self.rescopeKeys, in: "a rescope entry") else { continue }
            if key == "cidr" {
                for t in strings(v, key) ?? [] { if let n = network(v, t, key) { networks.append(n) } }
            } else if let t = text(v, key) {
                target = scope(v, t)
            }
        }
        guard let target, !networks.isEmpty else {
            problem(node, "rescope: each entry needs cidr and scope")
            return
        }
        for n in networks { set.rescoped.append((n, target)) }
    }
}

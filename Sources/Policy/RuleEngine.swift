import Flows
public import PacketParsing
import Synchronization

/// Decides flows by the rules: the role of the process, the rules that apply to it, the
/// destination's classes, in a fixed precedence.
///
/// Precedence, first match wins (each tier in file order: files by name, then position):
/// 1. program rules (rules with `match:`, and a `role:` if they name one);
/// 2. rules for the process's role (`role:` without `match:`);
/// 3. the role's `allow` entries;
/// 4. rules for every flow (neither `role:` nor `match:`), unattributed flows included;
/// 5. the role's fallback (`otherwise`; alert when the role lists allowed destinations).
/// Nothing matched and no role fallback: unrated.
///
/// An engine is immutable once built and safe to share between threads. Reloading builds a new
/// engine and swaps it in only when the new rules loaded cleanly (see `RuleEngine.reloaded`).
/// The per-process part of a decision (role, applicable rules) is cached by `ProcessFacts`, so
/// a flow of a process already seen costs hash lookups and a few comparisons.
public final class RuleEngine: Sendable {
    public let ruleSet: RuleSet
    /// Where the rules came from (directory or file), for reloads.
    public let path: String?

    struct Step: Sendable, Hashable {
        enum Kind: Sendable, Hashable {
            case rule(Int32)
            case allow(role: Int32, entry: Int32)
        }
        var kind: Kind
        var tier: Rule.Tier
        var sequence: Int
        var order: Int { tier.rawValue << 40 | sequence }
    }

    /// A process's share of the decision: its role and the steps that may apply to its flows.
    struct Plan: Sendable {
        var role: Int32?
        var roleMatcher: SourceLocation?
        /// Steps not bound to destination classes, in precedence order.
        var unbound: [Step]
        /// Program-tier rules that apply to this process.
        var programRules: Set<Int32>
    }

    private let index: DestinationIndex
    private let roleOrder: [Int32]
    private let programByExe: [String: [Int32]]
    private let programBySHA: [String: [Int32]]
    private let programByName: [String: [Int32]]
    private let programOther: [Int32]
    private let roleSteps: [[Step]]
    private let everyoneSteps: [Step]
    private let stepsByClass: [[Step]]
    private let classBound: Set<Step>
    private let taggedClasses: [String?]
    private let unattributedPlan: Plan
    private let cache = Mutex<[ProcessFacts: Plan]>([:])
    private static let cacheLimit = 65_536

    public init(rules: RuleSet, path: String? = nil) {
        ruleSet = rules
        self.path = path
        index = DestinationIndex(classes: rules.classes)
        taggedClasses = rules.classes.map(\.tag)
        roleOrder = rules.roles.indices.sorted { a, b in
            rules.roles[a].priority != rules.roles[b].priority ? rules.roles[a].priority > rules.roles[b].priority : a < b
        }.map { Int32($0) }

        var byExe: [String: [Int32]] = [:], bySHA: [String: [Int32]] = [:], byName: [String: [Int32]] = [:]
        var other: [Int32] = []
        var roleSteps = Array(repeating: [Step](), count: rules.roles.count)
        var everyone: [Step] = []
        var byClass = Array(repeating: [Step](), count: rules.classes.count)
        var bound = Set<Step>()
        let roleIndex = Dictionary(rules.roles.enumerated().map { ($1.name, Int32($0)) }, uniquingKeysWith: { a, _ in a })

        func register(_ step: Step, _ selectors: [DestinationSelector]) {
            // Bound to classes when every selector needs one: then only flows reaching a class see it.
            guard !selectors.isEmpty, selectors.allSatisfy({ !$0.classes.isEmpty }) else { return }
            bound.insert(step)
            var added = Set<Int32>()
            for s in selectors { for c in s.classes where added.insert(c).inserted { byClass[Int(c)].append(step) } }
        }
        for (i, rule) in rules.rules.enumerated() {
            let id = Int32(i)
            let step = Step(kind: .rule(id), tier: rule.tier, sequence: i)
            register(step, rule.to)
            switch rule.tier {
            case .program:
                // Index by the most selective literal the matcher has; anything else is checked per process.
                guard let m = rule.subject else { continue }
                if let sha = m.sha256.first, m.sha256.count == 1 { bySHA[sha, default: []].append(id) }
                else if m.exe.count == 1, m.exe[0].isLiteral, m.exe[0].pattern.hasPrefix("/") { byExe[m.exe[0].pattern, default: []].append(id) }
                else if m.name.count == 1, m.name[0].isLiteral { byName[m.name[0].pattern, default: []].append(id) }
                else if m.exe.count == 1, m.exe[0].isLiteral { byName["exe:" + m.exe[0].pattern, default: []].append(id) }
                else { other.append(id) }
            case .role:
                if let r = rule.role.flatMap({ roleIndex[$0] }) { roleSteps[Int(r)].append(step) }
            case .everyone:
                everyone.append(step)
            case .roleAllow, .roleDefault:
                break
            }
        }
        for (r, role) in rules.roles.enumerated() {
            for (e, selector) in role.allow.enumerated() {
                let step = Step(kind: .allow(role: Int32(r), entry: Int32(e)), tier: .roleAllow, sequence: r << 20 | e)
                register(step, [selector])
                roleSteps[r].append(step)
            }
        }
        programByExe = byExe
        programBySHA = bySHA
        programByName = byName
        programOther = other
        self.roleSteps = roleSteps.map { $0.filter { !bound.contains($0) } }
        everyoneSteps = everyone.filter { !bound.contains($0) }
        stepsByClass = byClass
        classBound = bound
        unattributedPlan = Plan(role: nil, roleMatcher: nil, unbound: everyoneSteps, programRules: [])
    }

    // MARK: Processes

    func plan(for process: ProcessFacts?) -> Plan {
        guard let process else { return unattributedPlan }
        if let cached = cache.withLock({ $0[process] }) { return cached }
        let plan = makePlan(process)
        cache.withLock { c in
            if c.count >= RuleEngine.cacheLimit { c.removeAll(keepingCapacity: true) }
            c[process] = plan
        }
        return plan
    }

    private func makePlan(_ p: ProcessFacts) -> Plan {
        var role: Int32?
        var roleMatcher: SourceLocation?
        search: for r in roleOrder {
            for m in ruleSet.roles[Int(r)].matchers where m.matches(p) {
                role = r
                roleMatcher = m.location
                break search
            }
        }
        // No matcher named it, but what it does does: it called a model runtime's API.
        if role == nil, let related = p.relatedRole {
            role = ruleSet.roles.firstIndex { $0.name == related }.map { Int32($0) }
        }
        var candidates: [Int32] = programOther
        if let path = p.exePath { candidates += programByExe[String(path)] ?? [] }
        if let sha = p.sha256 { candidates += programBySHA[sha.lowercased()] ?? [] }
        if let name = p.exeName {
            candidates += programByName[String(name)] ?? []
            candidates += programByName["exe:" + name] ?? []
        }
        if let comm = p.comm { candidates += programByName[comm] ?? [] }
        let roleName = role.map { ruleSet.roles[Int($0)].name }
        var program = Set<Int32>()
        for id in candidates where !program.contains(id) {
            let rule = ruleSet.rules[Int(id)]
            if let wanted = rule.role, wanted != roleName { continue }
            if rule.subject?.matches(p) == true { program.insert(id) }
        }
        var unbound = program.map { Step(kind: .rule($0), tier: .program, sequence: Int($0)) }.filter { !classBound.contains($0) }
        if let role { unbound += roleSteps[Int(role)] }
        unbound += everyoneSteps
        unbound.sort { $0.order < $1.order }
        return Plan(role: role, roleMatcher: roleMatcher, unbound: unbound, programRules: program)
    }

    /// The role of a process and the matcher that gave it.
    public func role(of process: ProcessFacts) -> (name: String, matcher: SourceLocation)? {
        let plan = plan(for: process)
        guard let r = plan.role, let at = plan.roleMatcher else { return nil }
        return (ruleSet.roles[Int(r)].name, at)
    }

    // MARK: Flows

    func effectiveScope(_ facts: FlowFacts) -> AddressScope {
        for (network, scope) in ruleSet.rescoped where network.contains(facts.remoteAddress) { return scope }
        return facts.scope
    }

    private func selectorMatches(_ s: DestinationSelector, _ facts: FlowFacts, _ scope: AddressScope, _ classes: [Int32]) -> Bool {
        if let scopes = s.scopes, !scopes.contains(scope) { return false }
        if let ports = s.ports, !ports.contains(where: { $0.contains(facts.remotePort) }) { return false }
        if let protocols = s.protocols, !protocols.contains(facts.ipProtocol) { return false }
        if let roles = s.peerRoles, !(facts.peerRole.map(roles.contains) ?? false) { return false }
        if !s.classes.isEmpty, !s.classes.contains(where: { classes.contains($0) }) { return false }
        return true
    }

    private func stepMatches(_ step: Step, _ facts: FlowFacts, _ scope: AddressScope, _ classes: [Int32]) -> Bool {
        switch step.kind {
        case .rule(let id):
            let to = ruleSet.rules[Int(id)].to
            return to.isEmpty || to.contains { selectorMatches($0, facts, scope, classes) }
        case .allow(let role, let entry):
            return selectorMatches(ruleSet.roles[Int(role)].allow[Int(entry)], facts, scope, classes)
        }
    }

    /// Whether a class-bound step concerns this process at all.
    private func applies(_ step: Step, _ plan: Plan) -> Bool {
        switch step.kind {
        case .rule(let id):
            switch step.tier {
            case .program: return plan.programRules.contains(id)
            case .role: return plan.role.map { ruleSet.roles[Int($0)].name } == ruleSet.rules[Int(id)].role
            default: return true
            }
        case .allow(let role, _):
            return plan.role == role
        }
    }

    /// The policy decision for one flow. Fast: meant for the store writer, once per new flow and
    /// again when the flow's name becomes known.
    public func evaluate(_ facts: FlowFacts) -> Decision {
        let plan = plan(for: facts.process)
        let scope = effectiveScope(facts)
        var classes: [Int32] = []
        index.lookup(host: facts.hostname, address: facts.remoteAddress, into: &classes)
        var best: Step?
        for step in plan.unbound where stepMatches(step, facts, scope, classes) {
            best = step
            break
        }
        for c in classes {
            for step in stepsByClass[Int(c)] where step.order < (best?.order ?? Int.max) {
                if applies(step, plan) && stepMatches(step, facts, scope, classes) { best = step }
            }
        }
        return decision(best, plan, facts, scope, classes)
    }

    private func decision(_ step: Step?, _ plan: Plan, _ facts: FlowFacts, _ scope: AddressScope, _ classes: [Int32]) -> Decision {
        let role = plan.role.map { ruleSet.roles[Int($0)] }
        var d = Decision(role: role?.name)
        if role != nil { d.roleSource = plan.roleMatcher == nil ? .relation : .matcher }
        for c in classes { if let tag = taggedClasses[Int(c)], !d.tags.contains(tag) { d.tags.append(tag) } }
        switch step?.kind {
        case .rule(let id):
            let rule = ruleSet.rules[Int(id)]
            d.rule = rule.id
            for tag in rule.tags where !d.tags.contains(tag) { d.tags.append(tag) }
            if rule.action == .allow {
                d.verdict = .allowed
            } else {
                d.verdict = .alert
                d.severity = rule.severity ?? role?.severity ?? .medium
                d.message = rule.message ?? message(facts, scope, role?.name, because: "rule \(rule.id)")
            }
        case .allow(let r, let e):
            d.verdict = .allowed
            d.rule = ruleSet.roles[Int(r)].allow[Int(e)].location.description
        case nil:
            guard let role else { return d }
            d.verdict = role.fallback
            if d.verdict == .unrated { return d }
            d.rule = role.name + "/default"
            if d.verdict == .alert {
                d.severity = role.severity
                d.message = message(facts, scope, role.name, because: "not allowed for role \(role.name)")
            }
        }
        return d
    }

    private func message(_ facts: FlowFacts, _ scope: AddressScope, _ role: String?, because reason: String) -> String {
        // The program as a person calls it, with the executable when that says something more.
        let who = facts.process.map { p in
            let exe = p.exePath.map(String.init)
            guard let program = p.program, !program.isEmpty else { return exe ?? p.comm ?? "a process" }
            return exe.map { $0.hasSuffix("/" + program) ? $0 : "\(program) (\($0))" } ?? program
        } ?? "an unattributed flow"
        let destination: String
        if facts.remotePort == 53 && (facts.ipProtocol == IPProtocolNumber.udp || facts.ipProtocol == IPProtocolNumber.tcp) {
            destination = (facts.hostname.map { "a DNS query for \($0)" } ?? "a DNS server") + " at \(facts.remoteAddress) port 53"
        } else {
            destination = (facts.hostname.map { "\($0) (\(facts.remoteAddress))" } ?? "\(facts.remoteAddress)") + " port \(facts.remotePort)"
        }
        return "\(who)\(role.map { " [\($0)]" } ?? "") reached \(destination), \(scope.rawValue): \(reason)"
    }

    // MARK: Explanation

    /// One rule that matched a flow, for `telltale rules explain`.
    public struct Match: Sendable {
        public var tier: String
        public var rule: String
        public var location: String
        public var action: String
    }

    /// Why a flow got its decision: the role and its matcher, the destination's scope and classes,
    /// every rule that matched in precedence order (the first decided), and the decision.
    public struct Explanation: Sendable {
        public var role: String?
        public var roleMatcher: String?
        public var scope: AddressScope
        public var classes: [String]
        public var matches: [Match]
        public var decision: Decision
    }

    public func explain(_ facts: FlowFacts) -> Explanation {
        let plan = plan(for: facts.process)
        let scope = effectiveScope(facts)
        var classes: [Int32] = []
        index.lookup(host: facts.hostname, address: facts.remoteAddress, into: &classes)
        var steps = plan.unbound
        for c in classes { for s in stepsByClass[Int(c)] where applies(s, plan) && !steps.contains(s) { steps.append(s) } }
        let matched = steps.filter { stepMatches($0, facts, scope, classes) }.sorted { $0.order < $1.order }
        var matches = matched.map { step -> Match in
            switch step.kind {
            case .rule(let id):
                let r = ruleSet.rules[Int(id)]
                return Match(tier: step.tier.title, rule: r.id, location: r.location.description, action: r.action.rawValue)
            case .allow(let role, let entry):
                let s = ruleSet.roles[Int(role)].allow[Int(entry)]
                return Match(tier: step.tier.title, rule: s.location.description, location: s.location.description, action: "allow")
            }
        }
        if let r = plan.role {
            let role = ruleSet.roles[Int(r)]
            if role.fallback != .unrated {
                matches.append(Match(tier: Rule.Tier.roleDefault.title, rule: role.name + "/default",
                                     location: role.location.description, action: role.fallback == .alert ? "alert" : "allow"))
            }
        }
        let names = classes.map { c in
            let cls = ruleSet.classes[Int(c)]
            return cls.anonymous ? "(inline at \(cls.location))" : cls.name
        }
        return Explanation(role: plan.role.map { ruleSet.roles[Int($0)].name }, roleMatcher: plan.roleMatcher?.description,
                           scope: scope, classes: names, matches: matches, decision: evaluate(facts))
    }
}

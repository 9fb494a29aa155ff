import Foundation

/// Learning mode: the (program, destination) pairs seen during a learning period; afterwards a
/// flow whose pair is not in the baseline raises an alert.
///
/// The program is its sha256 when known (else its path, else its name); the destination is the
/// observed host name when known, else the address.
public struct Baseline: Sendable, Equatable {
    public struct Pair: Sendable, Hashable {
        public var program: String
        public var destination: String
        public init(program: String, destination: String) {
            self.program = program
            self.destination = destination
        }
    }

    public private(set) var pairs: Set<Pair> = []

    /// The rule id learning-mode alerts carry.
    public static let ruleID = "learning/new-destination"

    public init() {}

    public static func pair(_ facts: FlowFacts) -> Pair {
        let program = facts.process?.programKey ?? "unattributed"
        let destination = facts.hostname.map { $0.lowercased() } ?? "\(facts.remoteAddress)"
        return Pair(program: program, destination: destination)
    }

    /// Records the flow's pair; returns whether it was new.
    @discardableResult
    public mutating func record(_ facts: FlowFacts) -> Bool {
        pairs.insert(Baseline.pair(facts)).inserted
    }

    public func contains(_ facts: FlowFacts) -> Bool {
        pairs.contains(Baseline.pair(facts))
    }

    /// The decision with learning applied: a pair outside the baseline turns a flow that is not
    /// already an alert into one (severity `medium`).
    public func check(_ facts: FlowFacts, _ decision: Decision) -> Decision {
        guard decision.verdict != .alert, !contains(facts) else { return decision }
        var d = decision
        d.verdict = .alert
        d.rule = Baseline.ruleID
        d.severity = .medium
        let pair = Baseline.pair(facts)
        d.message = "\(pair.program) reached \(pair.destination), which it never reached while learning"
        return d
    }

    /// One pair per line, program and destination separated by a tab (the file a learning period writes).
    public var text: String {
        pairs.sorted { ($0.program, $0.destination) < ($1.program, $1.destination) }
            .map { "\($0.program)\t\($0.destination)\n" }.joined()
    }

    /// Reads a baseline file, held to the same trust as rules files (owner, mode, no symbolic link).
    public static func load(path: String, checkTrust: Bool = true) throws(TrustedFile.Refusal) -> Baseline {
        Baseline(text: try TrustedFile.read(path, checkTrust: checkTrust))
    }

    /// Writes the text form to `path` (mode 0640, replacing the file whole).
    public static func write(_ baseline: Baseline, to path: String) throws {
        let temporary = path + ".tmp-\(UInt32.random(in: 0 ... .max))"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(baseline.text.utf8), attributes: [.posixPermissions: 0o640]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        guard rename(temporary, path) == 0 else {
            let error = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Reads the text form; lines without a tab are skipped.
    public init(text: String) {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            guard fields.count == 2 else { continue }
            pairs.insert(Pair(program: String(fields[0]), destination: String(fields[1])))
        }
    }
}

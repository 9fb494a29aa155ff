/// One thing wrong with a rules file: where, and what.
public struct RulesProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// Every problem found while loading a rules directory; nothing was loaded.
public struct RulesError: Error, Equatable, Sendable, CustomStringConvertible {
    public var problems: [RulesProblem]

    public init(problems: [RulesProblem]) {
        self.problems = problems
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

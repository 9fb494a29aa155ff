import PacketParsing

extension RuleSet {
    /// Builds one rule set from rules texts in load order; `list(file, name)` reads a list file a
    /// text names. Throws every problem found (with `problems` found before), each with file and line.
    ///
    /// The files are read by whoever loads the rules (with the trust checks a root daemon needs);
    /// the policy engine only ever sees their text.
    public static func assemble(
        _ texts: [(file: String, text: String)], problems earlier: [RulesProblem] = [],
        list: @escaping (_ file: String, _ name: String) -> Result<(name: String, text: String), RulesProblem>
    ) throws(RulesError) -> RuleSet {
        var problems = earlier
        var set = RuleSet()
        var classReferences: [(String, SourceLocation)] = []
        var roleReferences: [(String, SourceLocation)] = []
        for (file, text) in texts {
            var parser = RuleFileParser(file: file) { name in list(file, name) }
            parser.parse(text, into: &set)
            problems += parser.problems
            classReferences += parser.classReferences
            roleReferences += parser.roleReferences
            set.files.append(file)
        }
        set.finish(classReferences: classReferences, roleReferences: roleReferences, problems: &problems)
        guard problems.isEmpty else { throw RulesError(problems: problems) }
        return set
    }

    /// Parses one rules text; `list(name)` gives the list files it names (none by default: a text
    /// that names one has a problem for it). For tests and tools.
    public static func parse(
        _ text: String, file: String = "rules.yaml",
        list: @escaping (_ name: String) -> Result<(name: String, text: String), RulesProblem> = RuleSet.noListFiles
    ) throws(RulesError) -> RuleSet {
        var problems: [RulesProblem] = []
        var set = RuleSet()
        var parser = RuleFileParser(file: file, readList: list)
        parser.parse(text, into: &set)
        problems += parser.problems
        set.files = [file]
        set.finish(classReferences: parser.classReferences, roleReferences: parser.roleReferences, problems: &problems)
        guard problems.isEmpty else { throw RulesError(problems: problems) }
        return set
    }

    /// The list reader of a text parsed on its own: every list file it names is a problem.
    public static func noListFiles(_ name: String) -> Result<(name: String, text: String), RulesProblem> {
        .failure(RulesProblem(file: name, line: nil, message: "cannot read: list files are read only with rules loaded from a file"))
    }

    /// Resolves names across files, gives inline destinations their anonymous classes, and orders
    /// re-scoped networks most specific first.
    mutating func finish(classReferences: [(String, SourceLocation)], roleReferences: [(String, SourceLocation)],
                         problems: inout [RulesProblem]) {
        var seen = Set<String>()
        for c in classes where !c.anonymous {
            if !seen.insert(c.name).inserted {
                problems.append(RulesProblem(file: c.location.file, line: c.location.line, message: "class '\(c.name)' is declared twice"))
            }
        }
        let names = Set(classes.map(\.name))
        for (name, at) in classReferences where !names.contains(name) {
            problems.append(RulesProblem(file: at.file, line: at.line, message: "class '\(name)' is not declared in any rules file"))
        }
        let roleNames = Set(roles.map(\.name))
        for (name, at) in roleReferences where !roleNames.contains(name) {
            problems.append(RulesProblem(file: at.file, line: at.line, message: "role '\(name)' is not declared in any rules file"))
        }
        var classes = self.classes
        let named = Dictionary(classes.enumerated().filter { !$0.element.anonymous }.map { ($0.element.name, Int32($0.offset)) },
                               uniquingKeysWith: { a, _ in a })
        func resolve(_ s: inout DestinationSelector) {
            s.classes = s.classNames.compactMap { named[$0] }
            if let inline = s.inlineClass {
                classes.append(inline)
                s.classes.append(Int32(classes.count - 1))
                s.inlineClass = nil
            }
        }
        var roles = self.roles, rules = self.rules
        for i in roles.indices { for j in roles[i].allow.indices { resolve(&roles[i].allow[j]) } }
        for i in rules.indices { for j in rules[i].to.indices { resolve(&rules[i].to[j]) } }
        self.roles = roles
        self.rules = rules
        self.classes = classes
        rescoped.sort { $0.0.prefixLength > $1.0.prefixLength }
    }
}


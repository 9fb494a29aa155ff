import Foundation
import PacketParsing
#if canImport(Glibc)
import Glibc
#endif

extension RuleSet {
    /// Loads a rules directory (every `*.yaml` and `*.yml` in name order) or one rules file.
    ///
    /// Refuses, as OpenSSH refuses a loose key, a directory or file that group or others may write,
    /// that neither root nor this user owns, under a directory like that, or reached through a
    /// symbolic link (see `TrustedFile`); nothing inside a refused directory is read. Throws every
    /// problem found, each with its file and line.
    public static func load(path: String, checkPermissions: Bool = true) throws(RulesError) -> RuleSet {
        func refuse(_ file: String, _ message: String) -> RulesError {
            RulesError(problems: [RulesProblem(file: file, line: nil, message: message)])
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw refuse(path, "cannot read: \(String(cString: strerror(errno)))") }
        let type = info.st_mode & S_IFMT
        if type == S_IFLNK { throw refuse(path, "is a symbolic link: refused; give the path of the rules themselves") }
        let isDirectory = type == S_IFDIR
        if checkPermissions {
            if let p = TrustedFile.permissionProblem(info, isDirectory: isDirectory) { throw refuse(path, p) }
            if let refusal = TrustedFile.directoriesAboveProblem(path) { throw refuse(refusal.path, refusal.message) }
        }
        var files: [String] = []
        if isDirectory {
            do {
                let names = try FileManager.default.contentsOfDirectory(atPath: path)
                files = names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
                    .map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
            } catch {
                throw refuse(path, "cannot list the directory: \(error.localizedDescription)")
            }
            guard !files.isEmpty else { throw refuse(path, "no rules files in \(path) (*.yaml or *.yml)") }
        } else {
            files = [path]
        }
        var problems: [RulesProblem] = []
        var texts: [(file: String, text: String)] = []
        for file in files {
            do {
                texts.append((file, try TrustedFile.read(file, checkTrust: checkPermissions)))
            } catch {
                problems.append(RulesProblem(file: error.path, line: nil, message: error.message))
            }
        }
        return try assemble(texts, problems: problems) { file, name in
            let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let full = name.hasPrefix("/") ? name : (directory.isEmpty ? name : directory + "/" + name)
            return readList(full, checkPermissions: checkPermissions)
        }
    }

    /// Builds one rule set from rules texts in load order; `list(file, name)` reads a list file a
    /// text names. Throws every problem found (with `problems` found before), each with file and line.
    static func assemble(
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

    /// Parses one rules text (list files are resolved against the current directory). For tests and tools.
    public static func parse(_ text: String, file: String = "rules.yaml") throws(RulesError) -> RuleSet {
        var problems: [RulesProblem] = []
        var set = RuleSet()
        var parser = RuleFileParser(file: file) { name in readList(name, checkPermissions: false) }
        parser.parse(text, into: &set)
        problems += parser.problems
        set.files = [file]
        set.finish(classReferences: parser.classReferences, roleReferences: parser.roleReferences, problems: &problems)
        guard problems.isEmpty else { throw RulesError(problems: problems) }
        return set
    }

    static func readList(_ path: String, checkPermissions: Bool) -> Result<(name: String, text: String), RulesProblem> {
        do {
            return .success((path, try TrustedFile.read(path, checkTrust: checkPermissions)))
        } catch {
            return .failure(RulesProblem(file: error.path, line: nil, message: error.message))
        }
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


import Foundation
import PacketParsing
#if canImport(Glibc)
import Glibc
#endif

extension RuleSet {
    /// Loads a rules directory (every `*.yaml` and `*.yml` in name order) or one rules file.
    ///
    /// Refuses, as OpenSSH refuses a loose key, a directory or file that group or others may write,
    /// or that neither root nor this user owns. Throws every problem found, each with its file and line.
    public static func load(path: String, checkPermissions: Bool = true) throws(RulesError) -> RuleSet {
        var problems: [RulesProblem] = []
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RulesError(problems: [RulesProblem(file: path, line: nil, message: "cannot read: \(String(cString: strerror(errno)))")])
        }
        var files: [String] = []
        let isDirectory = info.st_mode & S_IFMT == S_IFDIR
        if checkPermissions, let p = permissionProblem(info, isDirectory: isDirectory) {
            problems.append(RulesProblem(file: path, line: nil, message: p))
        }
        if isDirectory {
            do {
                let names = try FileManager.default.contentsOfDirectory(atPath: path)
                files = names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
                    .map { path.hasSuffix("/") ? path + $0 : path + "/" + $0 }
            } catch {
                problems.append(RulesProblem(file: path, line: nil, message: "cannot list the directory: \(error.localizedDescription)"))
            }
        } else {
            files = [path]
        }
        var set = RuleSet()
        var classReferences: [(String, SourceLocation)] = []
        var roleReferences: [(String, SourceLocation)] = []
        for file in files {
            guard let text = readChecked(file, checkPermissions: checkPermissions, problems: &problems) else { continue }
            let directory = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            var parser = RuleFileParser(file: file) { name in
                let full = name.hasPrefix("/") ? name : (directory.isEmpty ? name : directory + "/" + name)
                return readList(full, checkPermissions: checkPermissions)
            }
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

    /// Why a rules file or directory is not safe to trust, or nil.
    static func permissionProblem(_ info: stat, isDirectory: Bool) -> String? {
        let what = isDirectory ? "directory" : "file"
        if info.st_uid != 0 && info.st_uid != geteuid() {
            return "the \(what) is owned by uid \(info.st_uid), neither root nor this user: refused"
        }
        if info.st_mode & 0o022 != 0 {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            return "the \(what) is writable by group or others (mode 0\(mode)): refused; run chmod go-w on it"
        }
        return nil
    }

    static func readList(_ path: String, checkPermissions: Bool) -> Result<(name: String, text: String), RulesProblem> {
        var problems: [RulesProblem] = []
        guard let text = readChecked(path, checkPermissions: checkPermissions, problems: &problems) else {
            return .failure(problems.first ?? RulesProblem(file: path, line: nil, message: "cannot read the file"))
        }
        return .success((path, text))
    }

    static func readChecked(_ path: String, checkPermissions: Bool, problems: inout [RulesProblem]) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            problems.append(RulesProblem(file: path, line: nil, message: "cannot read: \(String(cString: strerror(errno)))"))
            return nil
        }
        if checkPermissions, let p = permissionProblem(info, isDirectory: false) {
            problems.append(RulesProblem(file: path, line: nil, message: p))
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            problems.append(RulesProblem(file: path, line: nil, message: "cannot read the file"))
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            problems.append(RulesProblem(file: path, line: nil, message: "not UTF-8 text"))
            return nil
        }
        return text
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


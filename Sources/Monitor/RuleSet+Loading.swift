import Foundation
public import Policy
import Posix

extension RuleSet {
    /// Loads a rules directory (every `*.yaml` and `*.yml` in name order) or one rules file.
    ///
    /// Refuses, as OpenSSH refuses a loose key, a directory or file that group or others may write,
    /// that neither root nor this user owns, under a directory like that, or reached through a
    /// symbolic link (see `TrustedFile`); nothing inside a refused directory is read. Throws every
    /// problem found, each with its file and line. The files are read here; the policy engine is
    /// handed their text.
    public static func load(path: String, checkPermissions: Bool = true) throws(RulesError) -> RuleSet {
        func refuse(_ file: String, _ message: String) -> RulesError {
            RulesError(problems: [RulesProblem(file: file, line: nil, message: message)])
        }
        let isDirectory: Bool
        do {
            isDirectory = try TrustedFile.isDirectory(
                path, checkTrust: checkPermissions, linkAdvice: "give the path of the rules themselves")
        } catch {
            throw refuse(error.path, error.message)
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
                texts.append((file, try TrustedFile.read(file, checkTrust: checkPermissions, maximumSize: YAMLBounds.maximumSize)))
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

    /// Reads a list file a rules file names, trusted as the rules are.
    static func readList(_ path: String, checkPermissions: Bool) -> Result<(name: String, text: String), RulesProblem> {
        do {
            return .success((path, try TrustedFile.read(path, checkTrust: checkPermissions, maximumSize: YAMLBounds.maximumSize)))
        } catch {
            return .failure(RulesProblem(file: error.path, line: nil, message: error.message))
        }
    }
}

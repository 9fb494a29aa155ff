import Foundation
public import Policy

extension RuleEngine {
    /// Loads the rules at `path` (a directory of YAML files, or one file); see `RuleSet.load(path:)`.
    public convenience init(directory path: String, checkPermissions: Bool = true) throws(RulesError) {
        self.init(rules: try RuleSet.load(path: path, checkPermissions: checkPermissions), path: path)
    }

    /// The one way every command chooses its rules: the configured path, else the installed
    /// directory when it exists, else the built-in pack. A configured or installed pack that is
    /// broken is refused with every problem (never replaced by the built-in one behind the person's back).
    public static func load(
        configured: String?, installed: String = RuleEngine.installedDirectory, checkPermissions: Bool = true
    ) throws(RulesError) -> (engine: RuleEngine, origin: Origin) {
        if let configured {
            return (try RuleEngine(directory: configured, checkPermissions: checkPermissions), .configured(configured))
        }
        if FileManager.default.fileExists(atPath: installed) {
            return (try RuleEngine(directory: installed, checkPermissions: checkPermissions), .installed(installed))
        }
        return (RuleEngine(rules: try DefaultRulePack.ruleSet()), .builtIn)
    }

    /// A new engine from the same path; on any problem, throws and the caller keeps this one.
    public func reloaded(checkPermissions: Bool = true) throws(RulesError) -> RuleEngine {
        guard let path else { return self }
        return try RuleEngine(directory: path, checkPermissions: checkPermissions)
    }
}

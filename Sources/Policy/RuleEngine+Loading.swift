import Foundation

extension RuleEngine {
    /// Where the rules in force come from.
    public enum Origin: Sendable, Equatable {
        /// A directory or file the person named (`--rules`, `rules:` in the configuration).
        case configured(String)
        /// The installed pack, `/etc/telltale/rules.d`.
        case installed(String)
        /// The pack built into Telltale, when nothing is installed.
        case builtIn

        /// How the origin is named in output and logs.
        public var description: String {
            switch self {
            case .configured(let path), .installed(let path): path
            case .builtIn: DefaultRulePack.location
            }
        }
    }

    /// The directory the package installs the rules in.
    public static let installedDirectory = "/etc/telltale/rules.d"

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
}

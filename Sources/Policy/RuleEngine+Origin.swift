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
}

// JavaScript runtimes: Node (named by the package a script belongs to), Electron, Deno and Bun.

extension ProgramNamer {
    /// Node's options that take their value in the next argument (`node --help`); the rest are
    /// flags or carry their value after `=`.
    static let nodeSyntax: OptionSyntax = {
        var syntax = OptionSyntax()
        syntax.shortValue = ["r", "C"]
        syntax.shortCode = ["e", "p"]
        syntax.longCode = ["--eval", "--print"]
        syntax.longProgram = ["--run"]
        syntax.longValue = [
            "--require", "--import", "--loader", "--experimental-loader", "--conditions", "--title", "--env-file",
            "--env-file-if-exists", "--stack-size", "--inspect-port", "--debug-port", "--input-type",
            "--openssl-config", "--icu-data-dir", "--redirect-warnings", "--diagnostic-dir", "--report-dir",
            "--report-directory", "--report-filename", "--report-signal", "--unhandled-rejections",
            "--dns-result-order", "--tls-cipher-list", "--tls-keylog", "--secure-heap", "--secure-heap-min",
            "--heapsnapshot-signal", "--cpu-prof-dir", "--cpu-prof-name", "--heap-prof-dir", "--heap-prof-name",
            "--disable-warning", "--watch-path", "--experimental-policy", "--policy-integrity",
            "--experimental-config-file", "--localstorage-file", "--max-old-space-size", "--max-semi-space-size",
            "--test-name-pattern", "--test-reporter", "--test-reporter-destination",
        ]
        return syntax
    }()

    /// - `node [options] script` → the package the script belongs to (`nodeScript`).
    /// - `node -e|-p code` → `node -e` (`.script`); `node -` → `node -`.
    /// - `node --run task` runs a `package.json` script: the package of the working directory.
    /// - a bare `node` (a REPL) → nil: the executable's name.
    func nodeProgram(arguments: [String], cwd: String?) -> Program? {
        switch Self.scan(arguments, Self.nodeSyntax) {
        case .argument(let index): return nodeScript(arguments[index], cwd: cwd)
        case .code: return Program(name: "node -e", kind: .script)
        case .standardInput: return Program(name: "node -", kind: .script)
        case .option:
            if let cwd = cwd.flatMap({ Self.absolute($0, cwd: nil) }), case .found(let name) = packageName(around: cwd) {
                return Program(name: name, kind: .nodePackage)
            }
            return Program(name: "node --run", kind: .script)
        case .none: return nil
        }
    }

    /// Package managers whose command-line entry points live in their own package.
    static let packageManagers: Set<String> = ["npm", "pnpm", "yarn", "corepack"]
    /// The commands those entry points are (`npx-cli.js` is `npx`, though it lives in `npm`).
    static let packageManagerCommands: Set<String> = ["npm", "npx", "pnpm", "pnpx", "yarn", "yarnpkg"]

    /// A script run by Node, named by the package it belongs to:
    /// - `…/node_modules/npm/bin/npx-cli.js` and the like → the command (`npm`, `npx`, `pnpm`, `yarn`).
    /// - `…/node_modules/.bin/x` (a link npx and npm scripts run) → the package `x`'s `package.json`
    ///   name when `node_modules/x` exists, else `x`. Links are not followed (we have no readlink),
    ///   and a bin is usually named after its package.
    /// - `…/node_modules/pkg/…` → `pkg`'s `package.json` name, else `pkg` (scoped `@scope/pkg` whole).
    /// - otherwise the nearest `package.json` with a name, climbing from the script (a directory
    ///   given as the script counts) through at most 8 directories; nameless ones (`{"type":"module"}`
    ///   in `dist/`) are passed over. A malformed or oversized one stops the climb: the script's
    ///   basename (`.script`) rather than a guess from further up.
    /// - a script in a `bin/` directory outside any package: npm's global layout
    ///   (`prefix/bin/x` → `prefix/lib/node_modules/x`).
    /// - otherwise the script's basename (`.script`).
    func nodeScript(_ path: String, cwd: String?) -> Program {
        let name = Self.basename(path)
        let absolute = Self.absolute(path, cwd: cwd)
        let components = Self.components(absolute ?? path)
        if let modules = components.lastIndex(of: "node_modules"), modules + 1 < components.count {
            let root = "/" + components[..<modules].joined(separator: "/")
            let directory = root == "/" ? "/node_modules" : root + "/node_modules"
            var package = components[modules + 1]
            if package == ".bin" {
                guard modules + 2 < components.count else { return Program(name: name, kind: .script) }
                let bin = components[modules + 2]
                if absolute != nil, case .found(let named) = packageJSON(directory + "/" + bin) {
                    return Program(name: named, kind: .nodePackage)
                }
                return Program(name: bin, kind: .nodePackage)
            }
            if package.hasPrefix("@"), modules + 2 < components.count { package += "/" + components[modules + 2] }
            if Self.packageManagers.contains(package) {
                let command = Self.removingExtension(Self.removingExtension(name, [".js", ".cjs", ".mjs"]), ["-cli"])
                if Self.packageManagerCommands.contains(command) {
                    return Program(name: command == "yarnpkg" ? "yarn" : command, kind: .nodePackage)
                }
            }
            if absolute != nil, case .found(let named) = packageJSON(directory + "/" + package) {
                return Program(name: named, kind: .nodePackage)
            }
            return Program(name: package, kind: .nodePackage)
        }
        guard let absolute else { return Program(name: name, kind: .script) }
        switch packageName(around: absolute) {
        case .found(let named): return Program(name: named, kind: .nodePackage)
        case .unusable: return Program(name: name, kind: .script)
        case .absent: break
        }
        if Self.isInBinDirectory(absolute) {
            let prefix = Self.dirname(Self.dirname(absolute))
            let global = (prefix == "/" ? "" : prefix) + "/lib/node_modules/" + name
            if case .found(let named) = packageJSON(global) { return Program(name: named, kind: .nodePackage) }
        }
        return Program(name: name, kind: .script)
    }

    /// What one `package.json` said.
    enum PackageLookup: Equatable {
        case found(String)
        /// No file, or a file without a usable name: keep climbing.
        case absent
        /// Malformed or oversized: stop climbing.
        case unusable
    }

    /// The `"name"` of `directory/package.json`, read through the process's root (64 KiB at most).
    /// A name that is missing, empty or not a string is `.absent`.
    func packageJSON(_ directory: String) -> PackageLookup {
        let path = (directory == "/" ? "" : directory) + "/package.json"
        guard let bytes = read(path, limit: Limits.packageJSON + 1) else { return .absent }
        guard bytes.count <= Limits.packageJSON, let json = JSONValue.parse(bytes) else { return .unusable }
        guard case .object(let fields) = json else { return .unusable }
        guard case .string(let name)? = fields["name"] else { return .absent }
        let trimmed = name.trimmingSpaces
        return trimmed.isEmpty ? .absent : .found(trimmed)
    }

    /// The nearest named package at or above `path` (itself first, as it may be a directory).
    func packageName(around path: String) -> PackageLookup {
        var directory = path
        // The path itself, then at most `parentDirectories` directories above it, never above `/`.
        for _ in 0...Limits.parentDirectories {
            let lookup = packageJSON(directory)
            if lookup != .absent { return lookup }
            if directory == "/" { break }
            directory = Self.dirname(directory)
        }
        return .absent
    }

    // MARK: Electron, Deno, Bun

    /// `electron [switches] path/to/app` → the app's `package.json` name (`.app`), else the path's
    /// basename. A bare `electron` keeps the executable's name.
    func electronProgram(arguments: [String], cwd: String?) -> Program? {
        guard let path = arguments.dropFirst().first(where: { !$0.hasPrefix("-") && !$0.isEmpty }) else { return nil }
        if let absolute = Self.absolute(path, cwd: cwd), case .found(let name) = packageName(around: absolute) {
            return Program(name: name, kind: .app)
        }
        let name = Self.basename(path)
        return name.isEmpty || name == "." ? nil : Program(name: name, kind: .app)
    }

    /// `deno run|serve|test|bench [options] x.ts` and `deno x.ts` → the script's basename (a URL's
    /// last component); `deno eval` → `deno eval`. Other commands keep the executable's name.
    func denoProgram(arguments: [String]) -> Program? {
        var syntax = OptionSyntax()
        syntax.shortValue = ["c", "L"]
        syntax.longValue = ["--config", "--import-map", "--lock", "--cert", "--location", "--seed", "--port", "--host", "--log-level"]
        guard case .argument(let index) = Self.scan(arguments, syntax) else { return nil }
        let command = arguments[index]
        switch command {
        case "run", "serve", "test", "bench", "watch":
            guard case .argument(let script) = Self.scan(arguments, from: index + 1, syntax) else { return nil }
            return Program(name: Self.basename(arguments[script]), kind: .script)
        case "eval": return Program(name: "deno eval", kind: .script)
        default:
            let looksLikeScript = Self.contains(command, "/") || Self.contains(command, ".")
            return looksLikeScript ? Program(name: Self.basename(command), kind: .script) : nil
        }
    }

    /// `bun run x` / `bun x.ts` → the script's basename; `bun run task` (a `package.json` script) →
    /// the package of the working directory; `bun x pkg` / `bunx pkg` → `pkg`. Other commands keep
    /// the executable's name.
    func bunProgram(arguments: [String], cwd: String?) -> Program? {
        var syntax = OptionSyntax()
        syntax.shortValue = ["r", "c"]
        syntax.longValue = ["--cwd", "--preload", "--config", "--env-file", "--tsconfig-override", "--port"]
        let isBunx = arguments.first.map { Self.basename($0) == "bunx" } ?? false
        guard case .argument(let index) = Self.scan(arguments, syntax) else { return nil }
        let command = arguments[index]
        if isBunx || command == "x" {
            let packageIndex = isBunx ? index : index + 1
            guard case .argument(let package) = Self.scan(arguments, from: packageIndex, syntax) else { return nil }
            return Program(name: Self.packageWithoutVersion(arguments[package]), kind: .nodePackage)
        }
        let target: String
        if command == "run" {
            guard case .argument(let script) = Self.scan(arguments, from: index + 1, syntax) else { return nil }
            target = arguments[script]
        } else if Self.contains(command, "/") || Self.contains(command, ".") {
            target = command
        } else {
            return nil  // `bun install`, `bun test`, …: bun itself.
        }
        if Self.contains(target, "/") || Self.contains(target, ".") { return Program(name: Self.basename(target), kind: .script) }
        if let cwd = cwd.flatMap({ Self.absolute($0, cwd: nil) }), case .found(let name) = packageName(around: cwd) {
            return Program(name: name, kind: .nodePackage)
        }
        return Program(name: target, kind: .script)
    }

    /// `cowsay@1.5.0` → `cowsay`; `@scope/pkg@2` → `@scope/pkg`.
    static func packageWithoutVersion(_ spec: String) -> String {
        guard let at = spec.utf8.lastIndex(of: UInt8(ascii: "@")), at != spec.utf8.startIndex else { return spec }
        return String(decoding: spec.utf8[..<at], as: UTF8.self)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

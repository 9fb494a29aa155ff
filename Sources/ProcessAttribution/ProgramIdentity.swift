/// What kind of thing a process's `program` names.
public enum ProgramKind: String, Sendable, Hashable, CaseIterable {
    /// A native executable, named by the file that ran.
    case executable
    /// A script run by an interpreter (`app.py`), or inline code (`python -c`).
    case script
    /// A script an installer put in a `bin/` directory (`open-webui`, `uvicorn`).
    case consoleScript = "console-script"
    /// A module or class an interpreter was told to run (`python -m llama_cpp.server`, a Java main class).
    case module
    /// A Java archive run with `java -jar`.
    case jar
    /// A Node.js package, named by its `package.json` (`sillytavern`, `npm`).
    case nodePackage = "node-package"
    /// A packaged desktop app: Flatpak, Snap, AppImage, Electron.
    case app
    /// A container, named by its runtime.
    case container
}

/// What a person calls a process: `open-webui`, not `python3.11`.
public struct Program: Sendable, Hashable {
    public var name: String
    public var kind: ProgramKind

    public init(name: String, kind: ProgramKind) {
        self.name = name
        self.kind = kind
    }
}

/// Names the program a process runs from what /proc says about it: argv, the exe link, the working
/// directory, files under the process's own root, and container runtimes' metadata on the host.
///
/// It never runs anything and never asks the network: every answer comes from bounded file reads
/// through the two closures, so the rules are tested against a temporary directory. It runs once per
/// exec in the daemon, so the reads are few and small (see `Limits`); a caller that names many
/// processes of one container should cache `containerName(id:)` by id.
///
/// The rules, in the order they are tried (each one documented where it is implemented):
/// 1. A container the runtime names (Docker, Podman, containerd CRI): `.container`, the container's name.
/// 2. A Flatpak sandbox (`/.flatpak-info`), a Snap, an AppImage: `.app`, the app's name.
/// 3. An interpreter recognised by its executable's name (never by argv alone): the script, console
///    script, module, jar or package it runs; inline code is named honestly (`python -c`).
/// 4. An Electron app (an executable beside `resources/app.asar`): `.app`, the executable's name.
/// 5. Anything else: `.executable`, the executable's name; with no exe (kernel threads, unreadable
///    links), `comm`.
///
/// Names are not sanitised (argv may hold escape sequences; printers strip them) but are capped at
/// `Limits.nameBytes`, and never empty: the last resort is `"?"`.
struct ProgramNamer: Sendable {
    /// Reads up to `limit` bytes of a file by its absolute path as the process sees it; the caller
    /// maps it under `/proc/PID/root`. Nil when the file cannot be read.
    let readFile: @Sendable (String, Int) -> [UInt8]?
    /// Reads up to `limit` bytes of a file by its absolute path on the host (container runtimes'
    /// metadata). Nil when the file cannot be read.
    let hostFile: @Sendable (String, Int) -> [UInt8]?

    init(
        readFile: @escaping @Sendable (String, Int) -> [UInt8]?,
        hostFile: @escaping @Sendable (String, Int) -> [UInt8]?
    ) {
        self.readFile = readFile
        self.hostFile = hostFile
    }

    /// The bounds on every read and scan.
    enum Limits {
        /// Only the first arguments are looked at; a program's name is never past them.
        static let arguments = 64
        /// Only the first bytes of each argument are looked at. A longer argument cannot be a path
        /// an interpreter opened (PATH_MAX), and the cut keeps a hostile command line cheap to scan.
        static let argumentBytes = 4096
        /// A script's first bytes: the shebang line and a pip console-script stub's imports.
        static let scriptHead = 256
        /// A `package.json` larger than this is ignored (real ones are a few KiB).
        static let packageJSON = 64 * 1024
        /// How many directories the search for a `package.json` climbs.
        static let parentDirectories = 8
        /// Container runtime metadata (a container list is about 1 KiB a container).
        static let containerMetadata = 1024 * 1024
        /// `/.flatpak-info` is a few hundred bytes.
        static let flatpakInfo = 64 * 1024
        /// Longer paths cannot name a file (PATH_MAX), so they are never read.
        static let pathBytes = 4096
        /// The longest name returned, in UTF-8 bytes.
        static let nameBytes = 128
    }

    /// The program of one process.
    /// - Parameters:
    ///   - exe: the target of `/proc/PID/exe` (maybe ending in ` (deleted)`); nil when unreadable.
    ///   - arguments: `/proc/PID/cmdline` split at NULs; only the first `Limits.arguments`, and the
    ///     first `Limits.argumentBytes` of each, are looked at.
    ///   - comm: `/proc/PID/comm` (at most 15 bytes).
    ///   - cwd: the target of `/proc/PID/cwd`, for resolving relative script paths.
    ///   - container: the container id from the cgroup path.
    ///   - tags: packaging tags (`PackagingTags`); `flatpak` makes `/.flatpak-info` worth reading.
    func program(exe: String?, arguments: [String], comm: String, cwd: String?, container: String?, tags: [String]) -> Program {
        let arguments = arguments.prefix(Limits.arguments).map { argument in
            argument.utf8.count <= Limits.argumentBytes
                ? argument : String(decoding: argument.utf8.prefix(Limits.argumentBytes), as: UTF8.self)
        }
        let exePath = exe.map(Self.withoutDeletedMarker).flatMap { $0.isEmpty ? nil : $0 }
        if let found = identify(exe: exePath, arguments: arguments, comm: comm, cwd: cwd, container: container, tags: tags),
           case let name = Self.capped(found.name), !name.isEmpty {
            return Program(name: name, kind: found.kind)
        }
        // Never nothing: the executable's name, then comm, then a mark that says we do not know.
        for fallback in [exePath.map(Self.basename), comm] {
            if let fallback, case let name = Self.capped(fallback), !name.isEmpty {
                return Program(name: name, kind: .executable)
            }
        }
        return Program(name: "?", kind: .executable)
    }

    private func identify(exe: String?, arguments: [String], comm: String, cwd: String?, container: String?, tags: [String]) -> Program? {
        // 1. A container is what a person started; the processes inside are its parts.
        if let container, let name = containerName(id: container) {
            return Program(name: name, kind: .container)
        }
        // 2. Packaged apps, by what their sandbox or mount says.
        if tags.contains("flatpak"), let app = flatpakApplication() {
            return Program(name: app, kind: .app)
        }
        guard let exe else {
            // No exe link (a kernel thread, or a process we may not inspect): argv[0] can say
            // anything, so it is believed only when the kernel's comm agrees with it.
            guard let first = arguments.first, case let argv0 = Self.basename(first), !argv0.isEmpty,
                  Self.commAgrees(comm, with: argv0)
            else { return nil }
            if let interpreter = Interpreter(executableName: argv0) {
                return program(interpreter: interpreter, arguments: arguments, cwd: cwd) ?? Program(name: argv0, kind: .executable)
            }
            return Program(name: argv0, kind: .executable)
        }
        if let app = appImageOrSnap(exe: exe) { return app }
        // 3. Interpreters, by the executable that really runs, never by argv[0] (it can lie).
        let name = Self.basename(exe)
        if let interpreter = Interpreter(executableName: name) {
            return program(interpreter: interpreter, arguments: arguments, cwd: cwd)
        }
        // 4. Electron apps ship their own runtime beside their code.
        if isElectronApp(exe: exe) { return Program(name: name, kind: .app) }
        // 5. A native program is its executable.
        return Program(name: name, kind: .executable)
    }

    /// The program an interpreter runs, or nil when it runs none (a REPL, a bare `node`).
    private func program(interpreter: Interpreter, arguments: [String], cwd: String?) -> Program? {
        switch interpreter {
        case .python(let family): pythonProgram(family: family, arguments: arguments, cwd: cwd)
        case .node: nodeProgram(arguments: arguments, cwd: cwd)
        case .electron: electronProgram(arguments: arguments, cwd: cwd)
        case .deno: denoProgram(arguments: arguments)
        case .bun: bunProgram(arguments: arguments, cwd: cwd)
        case .ruby: rubyProgram(arguments: arguments, cwd: cwd)
        case .perl: perlProgram(arguments: arguments, cwd: cwd)
        case .php: phpProgram(arguments: arguments)
        case .java: javaProgram(arguments: arguments)
        case .dotnet: dotnetProgram(arguments: arguments)
        case .shell(let name): shellProgram(shell: name, arguments: arguments)
        }
    }

    /// The kernel keeps the first 15 bytes of the executable's name as comm.
    static func commAgrees(_ comm: String, with name: String) -> Bool {
        guard !comm.isEmpty else { return false }
        return Array(name.utf8.prefix(15)) == Array(comm.utf8)
    }
}

// MARK: - Interpreters by executable name

extension ProgramNamer {
    /// An interpreter, recognised by the name of the executable that runs.
    enum Interpreter: Equatable, Sendable {
        /// `family` is what inline code is called after: `python -c`, `pypy -c`.
        case python(family: String)
        case node, electron, deno, bun, ruby, perl, php, java, dotnet
        /// A shell, by its own name: `bash -c`.
        case shell(String)

        /// `python3.11`, `pythonw`, `python3.13t`, `pypy3.10`, `node`, `nodejs`, `ruby3.2`,
        /// `perl5.36.0`, `php8.2`, `java`, `dotnet`, `deno`, `bun`, `electron` and the common shells.
        init?(executableName name: String) {
            guard name.utf8.count <= 32 else { return nil }
            switch name {
            case "node", "nodejs": self = .node
            case "electron": self = .electron
            case "deno": self = .deno
            case "bun": self = .bun
            case "java": self = .java
            case "dotnet": self = .dotnet
            case "sh", "bash", "dash", "zsh", "ksh", "mksh", "fish": self = .shell(name)
            default:
                if let rest = Self.suffix(of: name, after: "python"), Self.isVersion(rest, letters: "dmtuw") {
                    self = .python(family: "python")
                } else if let rest = Self.suffix(of: name, after: "pypy"), Self.isVersion(rest, letters: "") {
                    self = .python(family: "pypy")
                } else if let rest = Self.suffix(of: name, after: "ruby"), Self.isVersion(rest, letters: "") {
                    self = .ruby
                } else if let rest = Self.suffix(of: name, after: "perl"), Self.isVersion(rest, letters: "") {
                    self = .perl
                } else if let rest = Self.suffix(of: name, after: "php"), Self.isVersion(rest, letters: "") {
                    // php-fpm and php-cgi are servers, not script runners: they stay executables.
                    self = .php
                } else {
                    return nil
                }
            }
        }

        private static func suffix(of name: String, after prefix: String) -> Substring? {
            name.hasPrefix(prefix) ? name.dropFirst(prefix.count) : nil
        }

        /// Empty, or a version (`3`, `3.11`) with at most one build letter after it (`3.13t`, `w`).
        private static func isVersion(_ rest: Substring, letters: String) -> Bool {
            var rest = rest
            if let last = rest.last, letters.contains(last) { rest = rest.dropLast() }
            guard let first = rest.first else { return true }
            return first.isASCII && first.isNumber && rest.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "." }
        }
    }
}

// MARK: - Paths and names

extension ProgramNamer {
    // Paths are taken apart as UTF-8 bytes: `/` is ASCII, and bytes are cheaper than characters
    // on the long arguments a hostile process can pass.
    static let slash = UInt8(ascii: "/")

    /// The last component of a path, ignoring trailing slashes (`/a/b/` → `b`).
    static func basename(_ path: String) -> String {
        var bytes = path.utf8[...]
        while bytes.count > 1, bytes.last == slash { bytes = bytes.dropLast() }
        guard let last = bytes.lastIndex(of: slash) else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: bytes[bytes.index(after: last)...], as: UTF8.self)
    }

    /// The directory part of an absolute, normalised path (`/a/b` → `/a`, `/a` → `/`).
    static func dirname(_ path: String) -> String {
        guard let last = path.utf8.lastIndex(of: slash) else { return "." }
        return last == path.utf8.startIndex ? "/" : String(decoding: path.utf8[..<last], as: UTF8.self)
    }

    /// The non-empty components of a path.
    static func components(_ path: String) -> [String] {
        path.utf8.split(separator: slash).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `text` holds the ASCII character `ascii`.
    static func contains(_ text: String, _ ascii: Unicode.Scalar) -> Bool {
        text.utf8.contains(UInt8(ascii: ascii))
    }

    /// A readlink of `/proc/PID/exe` ends in ` (deleted)` once the file is gone; the name is the file's.
    static func withoutDeletedMarker(_ path: String) -> String {
        path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
    }

    /// `path` made absolute against `cwd` and normalised (`.` and `..` removed), or nil when it is
    /// relative and the working directory is unknown. Symlinks are left to the kernel.
    static func absolute(_ path: String, cwd: String?) -> String? {
        let joined: String
        if path.hasPrefix("/") {
            joined = path
        } else if let cwd, cwd.hasPrefix("/") {
            joined = Self.withoutDeletedMarker(cwd) + "/" + path
        } else {
            return nil
        }
        var parts: [String] = []
        for part in components(joined) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `name` cut to at most `Limits.nameBytes` UTF-8 bytes, on a character boundary.
    static func capped(_ name: String) -> String {
        guard name.utf8.count > Limits.nameBytes else { return name }
        var result = ""
        var bytes = 0
        for scalar in name.unicodeScalars {
            let width = String(scalar).utf8.count
            guard bytes + width <= Limits.nameBytes else { break }
            result.unicodeScalars.append(scalar)
            bytes += width
        }
        return result
    }

    /// `name` without one of `extensions` (`app.jar` → `app`); unchanged when none matches or
    /// nothing would be left.
    static func removingExtension(_ name: String, _ extensions: [String]) -> String {
        for ext in extensions where name.count > ext.count && name.hasSuffix(ext) {
            return String(name.dropLast(ext.count))
        }
        return name
    }

    /// A bounded read through the process's root; paths too long to name a file are not tried.
    func read(_ path: String, limit: Int) -> [UInt8]? {
        guard path.utf8.count <= Limits.pathBytes, path.hasPrefix("/") else { return nil }
        return readFile(path, limit)
    }

    /// The first line of a file (up to `Limits.scriptHead` bytes) and the bytes read.
    func head(of path: String) -> [UInt8]? {
        read(path, limit: Limits.scriptHead)
    }

    /// Whether `bytes` start with a `#!` line that mentions any of `interpreters`.
    static func shebang(_ bytes: [UInt8], names interpreters: [String]) -> Bool {
        guard bytes.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else { return false }
        let line = String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        return interpreters.contains { line.contains($0) }
    }
}

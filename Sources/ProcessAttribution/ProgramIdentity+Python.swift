// Python: scripts, console scripts, `-m` modules, and the servers and app runners that launch
// someone else's code (`uvicorn open_webui.main:app` is Open WebUI, not uvicorn).

extension ProgramNamer {
    /// CPython's options (`python --help`): `-c` is code, `-m` names a module, `-W`/`-X` take a value;
    /// every other letter is a flag and may be combined (`-uB`).
    static let pythonSyntax: OptionSyntax = {
        var syntax = OptionSyntax()
        syntax.shortValue = ["W", "X"]
        syntax.shortCode = ["c"]
        syntax.shortProgram = ["m"]
        syntax.longValue = ["--check-hash-based-pycs"]
        return syntax
    }()

    /// - `python -m module` → the module (`llama_cpp.server`, `.module`), or the app a launcher runs.
    /// - `python -c code` → `python -c` (`.script`): inline code has no name, and we do not invent one.
    /// - `python -` → `python -` (`.script`, read from stdin).
    /// - `python path/to/script` → see `pythonScript`.
    /// - a bare `python` (a REPL) → nil: the executable's name.
    func pythonProgram(family: String, arguments: [String], cwd: String?) -> Program? {
        switch Self.scan(arguments, Self.pythonSyntax) {
        case .argument(let index):
            return pythonScript(arguments[index], rest: Array(arguments[(index + 1)...]), cwd: cwd)
        case .option(_, let module, let next):
            guard !module.isEmpty else { return nil }
            let rest = next < arguments.count ? Array(arguments[next...]) : []
            return launchedApp(by: module, arguments: rest) ?? Program(name: module, kind: .module)
        case .code(let flag): return Program(name: family + " " + flag, kind: .script)
        case .standardInput: return Program(name: family + " -", kind: .script)
        case .none: return nil
        }
    }

    /// A script path given to Python.
    /// - `pkg/__main__.py`, or a directory holding one (`python pkg/`) → the directory's name.
    /// - a zip application (`app.pyz`, `app.zip`) → its name without the extension.
    /// - a console script: in a `bin/` directory, no `.py` extension, and either a `#!` line naming
    ///   python or pip's stub (`from x import main` … `sys.exit(main())`) in its first 256 bytes →
    ///   its name (`open-webui`, `.consoleScript`), or the app it launches when it is a launcher.
    /// - any other script → its basename (`app.py`, `.script`), also when the file is gone.
    /// A relative path is resolved against the cwd to read it; the name is the basename either way.
    func pythonScript(_ path: String, rest: [String], cwd: String?) -> Program {
        let name = Self.basename(path)
        let absolute = Self.absolute(path, cwd: cwd)
        if name == "__main__.py", let absolute {
            let directory = Self.basename(Self.dirname(absolute))
            if !directory.isEmpty, directory != "/" { return Program(name: directory, kind: .script) }
        }
        for zipExtension in [".pyz", ".pyzw", ".zip"] where name.count > zipExtension.count && name.hasSuffix(zipExtension) {
            return Program(name: String(name.dropLast(zipExtension.count)), kind: .script)
        }
        guard let absolute else { return Program(name: name, kind: .script) }
        let head = head(of: absolute)
        if head?.isEmpty ?? true {
            // A directory cannot be read as a file; Python runs the `__main__.py` inside it.
            let directory = Self.basename(absolute)
            if absolute != "/", read(absolute + "/__main__.py", limit: 1) != nil {
                return Program(name: directory, kind: .script)
            }
            return Program(name: name, kind: .script)
        }
        if let head, Self.isInBinDirectory(absolute), !name.hasSuffix(".py"), !name.hasSuffix(".pyw"),
           Self.shebang(head, names: ["python", "pypy"]) || Self.isPipStub(head) {
            return launchedApp(by: name, arguments: rest) ?? Program(name: name, kind: .consoleScript)
        }
        return Program(name: name, kind: .script)
    }

    /// pip's console-script stub: `from open_webui import app` … `sys.exit(app())`.
    static func isPipStub(_ head: [UInt8]) -> Bool {
        let text = String(decoding: head, as: UTF8.self)
        return text.contains("\nfrom ") && text.contains(" import ") && (text.contains("sys.exit(") || text.contains("import sys"))
    }

    // MARK: Launchers

    /// Servers that run an application object given as `module:attribute`.
    static let applicationServers: Set<String> = ["uvicorn", "gunicorn", "hypercorn", "granian", "daphne"]

    /// The app a well-known launcher runs, named the way its owner would, or nil when the launcher
    /// is not one of them or its arguments name no app (the caller then names the launcher).
    /// - ASGI/WSGI servers (`uvicorn`, `gunicorn`, `hypercorn`, `granian`, `daphne`): the top-level
    ///   package of the app spec (`open_webui.main:app` → `open_webui`, `.module`).
    /// - `streamlit run x.py`, `chainlit run x.py`, `fastapi run|dev x.py`, `gradio x.py`: the script's
    ///   basename (`.script`).
    /// - `flask --app spec run`: the script's basename for a `.py` spec, else the spec's top-level package.
    func launchedApp(by launcher: String, arguments: [String]) -> Program? {
        switch launcher {
        case _ where Self.applicationServers.contains(launcher):
            return Self.applicationSpec(in: arguments).map { Program(name: $0, kind: .module) }
        case "streamlit", "chainlit":
            guard arguments.first == "run" else { return nil }
            return Self.firstPositional(arguments.dropFirst()).map { Program(name: Self.basename($0), kind: .script) }
        case "fastapi":
            guard let command = arguments.first, command == "run" || command == "dev" else { return nil }
            return Self.firstPositional(arguments.dropFirst()).map { Program(name: Self.basename($0), kind: .script) }
        case "gradio":
            guard let script = Self.firstPositional(arguments[...]), script.hasSuffix(".py") else { return nil }
            return Program(name: Self.basename(script), kind: .script)
        case "flask":
            guard let spec = Self.flaskApp(arguments) else { return nil }
            if spec.hasSuffix(".py") { return Program(name: Self.basename(spec), kind: .script) }
            return Self.topLevelModule(of: spec).map { Program(name: $0, kind: .module) }
        default:
            return nil
        }
    }

    /// The first argument that is not an option (its value, if any, is not looked at).
    private static func firstPositional(_ arguments: ArraySlice<String>) -> String? {
        arguments.first { !$0.hasPrefix("-") && !$0.isEmpty }
    }

    /// `--app spec`, `--app=spec` or `-A spec` anywhere in a flask command line.
    private static func flaskApp(_ arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument.hasPrefix("--app=") { return String(argument.dropFirst("--app=".count)) }
            if argument == "--app" || argument == "-A", index + 1 < arguments.count { return arguments[index + 1] }
        }
        return nil
    }

    /// The top-level package of an ASGI/WSGI server's app. Server options take values we cannot
    /// list for every server (`--host 0.0.0.0`, `-b unix:/run/x.sock`), so the spec is found by its
    /// shape: first any `module:attribute` (attribute an identifier, maybe a factory call `f()`),
    /// else the last bare dotted module name that is not an option's value.
    static func applicationSpec(in arguments: [String]) -> String? {
        let positional = arguments.enumerated().filter { !$0.element.hasPrefix("-") }
        for (_, argument) in positional {
            guard let colon = argument.utf8.firstIndex(of: UInt8(ascii: ":")) else { continue }
            var attribute = Substring(decoding: argument.utf8[argument.utf8.index(after: colon)...], as: UTF8.self)
            if attribute.hasSuffix(")"), let open = attribute.firstIndex(of: "(") { attribute = attribute[..<open] }
            guard isIdentifier(attribute), let module = topLevelModule(of: String(decoding: argument.utf8[..<colon], as: UTF8.self))
            else { continue }
            return module
        }
        for (index, argument) in positional.reversed() {
            if index > 0, arguments[index - 1].hasPrefix("-"), !Self.contains(arguments[index - 1], "=") { continue }
            if isDottedName(argument[...]) { return topLevelModule(of: argument) }
        }
        return nil
    }

    /// `open_webui.main` → `open_webui`; `src/app.py` → `app`; nil when it is not a module name.
    static func topLevelModule(of spec: String) -> String? {
        let module = spec.utf8.firstIndex(of: UInt8(ascii: ":")).map { String(decoding: spec.utf8[..<$0], as: UTF8.self) } ?? spec
        var name = Substring(basename(module))
        if name.hasSuffix(".py") { name = name.dropLast(3) }
        guard isDottedName(name), let first = name.split(separator: ".").first else { return nil }
        return String(first)
    }

    /// A dotted module name of sane length (`a.b_c`).
    private static func isDottedName(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.count <= 1024 && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isIdentifier)
    }

    private static func isIdentifier(_ text: Substring) -> Bool {
        guard text.utf8.count <= 1024, let first = text.first, first == "_" || first.isLetter else { return false }
        return text.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }
}

import Foundation
import Synchronization
import Testing
@testable import ProcessAttribution

/// A process root and a host in temporary directories: files written here are what the namer reads.
private final class ProgramRoot: Sendable {
    let root: String
    let host: String
    /// Every read the namer made, with its limit, to check that reads stay bounded.
    let reads = Mutex<[(path: String, limit: Int)]>([])

    init() throws {
        let base = NSTemporaryDirectory() + "tt-program-" + UUID().uuidString
        root = base + "/root"
        host = base + "/host"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent) }

    /// Writes a file as the process sees it (`/srv/app/package.json`).
    func write(_ path: String, _ text: String) throws { try write(path, Data(text.utf8)) }

    func write(_ path: String, _ data: Data) throws { try Self.write(root + path, data) }

    /// Writes a file on the host (container runtime metadata).
    func writeHost(_ path: String, _ text: String) throws { try Self.write(host + path, Data(text.utf8)) }

    func directory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: root + path, withIntermediateDirectories: true)
    }

    private static func write(_ path: String, _ data: Data) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    private static func read(_ path: String, limit: Int) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: limit) else { return nil }
        return [UInt8](data)
    }

    var namer: ProgramNamer {
        ProgramNamer(
            readFile: { [self] path, limit in
                reads.withLock { $0.append((path, limit)) }
                return Self.read(root + path, limit: limit)
            },
            hostFile: { [self] path, limit in
                reads.withLock { $0.append((path, limit)) }
                return Self.read(host + path, limit: limit)
            }
        )
    }

    func program(
        exe: String?, _ arguments: [String], comm: String = "", cwd: String? = "/", container: String? = nil, tags: [String] = []
    ) -> Program {
        namer.program(exe: exe, arguments: arguments, comm: comm, cwd: cwd, container: container, tags: tags)
    }
}

private func named(_ name: String, _ kind: ProgramKind) -> Program { Program(name: name, kind: kind) }

@Suite struct ProgramIdentityTests {
    static let dockerID = String(repeating: "ab12", count: 16)
    let python = "/usr/bin/python3.11"
    let node = "/usr/bin/node"

    // MARK: Native programs

    @Test func aNativeProgramIsNamedByItsExecutable() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: "/usr/bin/curl", ["curl", "https://example.com"], comm: "curl") == named("curl", .executable))
        #expect(fake.program(exe: "/opt/tool/bin/ollama (deleted)", ["ollama", "serve"]) == named("ollama", .executable))
    }

    @Test func aProcessWithoutAnExecutableIsNamedByComm() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: nil, [], comm: "kworker/0:1") == named("kworker/0:1", .executable))
    }

    @Test func argv0IsBelievedWithoutAnExecutableOnlyWhenCommAgrees() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/app.py", "print(1)\n")
        #expect(fake.program(exe: nil, ["/usr/bin/python3", "/srv/app.py"], comm: "python3") == named("app.py", .script))
        // comm keeps 15 bytes of a longer name.
        #expect(fake.program(exe: nil, ["/usr/libexec/gnome-shell-calendar-server"], comm: "gnome-shell-cal")
            == named("gnome-shell-calendar-server", .executable))
        #expect(fake.program(exe: nil, ["/usr/bin/python3", "/srv/app.py"], comm: "miner") == named("miner", .executable))
    }

    @Test func anInterpreterIsRecognisedByItsExecutableNotByArgv0() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: "/usr/bin/miner", ["python3", "app.py"]) == named("miner", .executable))
        #expect(fake.program(exe: python, ["innocent", "app.py"]) == named("app.py", .script))
    }

    @Test func interpreterExecutableNamesIncludeVersionsAndBuilds() {
        for name in ["python", "python3", "python3.11", "pythonw", "python3.13t", "pypy", "pypy3.10"] {
            #expect(ProgramNamer.Interpreter(executableName: name) != nil, "\(name)")
        }
        #expect(ProgramNamer.Interpreter(executableName: "ruby3.2") == .ruby)
        #expect(ProgramNamer.Interpreter(executableName: "perl5.36.0") == .perl)
        #expect(ProgramNamer.Interpreter(executableName: "php8.2") == .php)
        #expect(ProgramNamer.Interpreter(executableName: "nodejs") == .node)
        #expect(ProgramNamer.Interpreter(executableName: "bash") == .shell("bash"))
        for name in ["python3-config", "php-fpm8.2", "rubyx", "pythonista", "perldoc", "node-gyp", "shellcheck"] {
            #expect(ProgramNamer.Interpreter(executableName: name) == nil, "\(name)")
        }
    }

    @Test func aBareInterpreterKeepsItsExecutableName() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, ["python3"]) == named("python3.11", .executable))
        #expect(fake.program(exe: python, ["python3", "-u", "-X", "dev"]) == named("python3.11", .executable))
        #expect(fake.program(exe: node, ["node", "--inspect"]) == named("node", .executable))
    }

    // MARK: Python

    @Test func pythonSkipsInterpreterOptions() throws {
        let fake = try ProgramRoot()
        let options: [[String]] = [
            ["-u"], ["-O", "-B", "-E", "-s", "-S", "-I"], ["-X", "importtime"], ["-Xfrozen_modules=off"],
            ["-W", "ignore"], ["-Werror"], ["--check-hash-based-pycs", "always"], ["-uB"], ["-uBX", "dev"], ["--"],
        ]
        for option in options {
            #expect(fake.program(exe: python, ["python3"] + option + ["app.py", "--port", "8080"]) == named("app.py", .script), "\(option)")
        }
    }

    @Test func pythonDashMIsNamedByTheModule() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, ["python3", "-m", "llama_cpp.server", "--model", "x.gguf"])
            == named("llama_cpp.server", .module))
        #expect(fake.program(exe: python, ["python3", "-u", "-mhttp.server", "8000"]) == named("http.server", .module))
        #expect(fake.program(exe: python, ["python3", "-Om", "pip", "install", "x"]) == named("pip", .module))
    }

    @Test func anApplicationServerIsNamedByThePackageOfItsApp() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, ["python3", "-m", "uvicorn", "--host", "0.0.0.0", "--port", "8080", "open_webui.main:app"])
            == named("open_webui", .module))
        #expect(fake.program(exe: python, ["python3", "-m", "gunicorn", "-b", "unix:/run/g.sock", "-w", "4", "app:create_app()"])
            == named("app", .module))
        #expect(fake.program(exe: python, ["python3", "-m", "gunicorn", "-w", "4", "myproject.wsgi"]) == named("myproject", .module))
        #expect(fake.program(exe: python, ["python3", "-m", "hypercorn", "--bind", "0.0.0.0:80", "src/service.py:app"])
            == named("service", .module))
        // A server whose arguments name no app is the server.
        #expect(fake.program(exe: python, ["python3", "-m", "uvicorn", "--help"]) == named("uvicorn", .module))
        // Installed as a console script, the same.
        try fake.write("/srv/.venv/bin/uvicorn", "#!/srv/.venv/bin/python\nimport sys\nfrom uvicorn.main import main\n")
        #expect(fake.program(exe: python, ["/srv/.venv/bin/python", "/srv/.venv/bin/uvicorn", "open_webui.main:app"])
            == named("open_webui", .module))
    }

    @Test func aScriptLauncherIsNamedByTheScriptItRuns() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, ["python3", "-m", "streamlit", "run", "dashboard.py", "--server.port", "8501"])
            == named("dashboard.py", .script))
        #expect(fake.program(exe: python, ["python3", "-m", "chainlit", "run", "-w", "chat.py"]) == named("chat.py", .script))
        #expect(fake.program(exe: python, ["python3", "-m", "fastapi", "dev", "api/main.py"]) == named("main.py", .script))
        #expect(fake.program(exe: python, ["python3", "-m", "gradio", "demo.py"]) == named("demo.py", .script))
        #expect(fake.program(exe: python, ["python3", "-m", "flask", "--app", "hello", "run"]) == named("hello", .module))
        #expect(fake.program(exe: python, ["python3", "-m", "flask", "--app=web/site.py", "run"]) == named("site.py", .script))
        #expect(fake.program(exe: python, ["python3", "-m", "streamlit", "hello"]) == named("streamlit", .module))
        #expect(fake.program(exe: python, ["python3", "-m", "flask", "run"]) == named("flask", .module))
    }

    @Test func pythonInlineCodeIsNamedHonestly() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, ["python3", "-c", "import os; os.system('x')"]) == named("python -c", .script))
        #expect(fake.program(exe: python, ["python3", "-uc", "print(1)"]) == named("python -c", .script))
        #expect(fake.program(exe: python, ["python3", "-cprint(1)"]) == named("python -c", .script))
        #expect(fake.program(exe: python, ["python3", "-"]) == named("python -", .script))
        #expect(fake.program(exe: "/usr/bin/pypy3", ["pypy3", "-c", "1"]) == named("pypy -c", .script))
    }

    @Test func aConsoleScriptIsRecognisedByItsShebangInABinDirectory() throws {
        let fake = try ProgramRoot()
        try fake.write("/usr/local/bin/open-webui", "#!/usr/local/bin/python3.11\n# -*- coding: utf-8 -*-\nimport re\n")
        #expect(fake.program(exe: python, ["/usr/local/bin/python3.11", "/usr/local/bin/open-webui", "serve"])
            == named("open-webui", .consoleScript))
        try fake.write("/home/u/.venv/bin/open-webui", "#!/usr/bin/env python3\nimport sys\n")
        #expect(fake.program(exe: python, ["python3", ".venv/bin/open-webui"], cwd: "/home/u") == named("open-webui", .consoleScript))
    }

    @Test func aConsoleScriptIsRecognisedByPipsStub() throws {
        let fake = try ProgramRoot()
        let stub = "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom open_webui import app\nif __name__ == '__main__':\n    sys.exit(app())\n"
        try fake.write("/opt/venv/bin/open-webui", stub)
        #expect(fake.program(exe: python, ["python", "/opt/venv/bin/open-webui"]) == named("open-webui", .consoleScript))
    }

    @Test func otherPythonScriptsAreScriptsByTheirBasename() throws {
        let fake = try ProgramRoot()
        try fake.write("/home/u/proj/app.py", "#!/usr/bin/env python3\nprint(1)\n")
        try fake.write("/usr/local/bin/tool.py", "#!/usr/bin/env python3\n")
        try fake.write("/usr/local/bin/runner", "#!/bin/sh\nexec python3 \"$0\"\n")
        #expect(fake.program(exe: python, ["python3", "app.py"], cwd: "/home/u/proj") == named("app.py", .script))
        #expect(fake.program(exe: python, ["python3", "./proj/../proj/app.py"], cwd: "/home/u") == named("app.py", .script))
        #expect(fake.program(exe: python, ["python3", "/usr/local/bin/tool.py"]) == named("tool.py", .script))
        #expect(fake.program(exe: python, ["python3", "/usr/local/bin/runner"]) == named("runner", .script))
        // No cwd: the script is not read, its name is still honest.
        #expect(fake.program(exe: python, ["python3", "app.py"], cwd: nil) == named("app.py", .script))
    }

    @Test func aDeletedScriptKeepsItsName() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, ["python3", "/tmp/dropper/run-me"]) == named("run-me", .script))
        #expect(fake.program(exe: python, ["python3", "/usr/local/bin/gone"]) == named("gone", .script))
    }

    @Test func aMainModuleInADirectoryOrZipIsNamedByIt() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/agent/__main__.py", "print(1)\n")
        #expect(fake.program(exe: python, ["python3", "agent"], cwd: "/srv") == named("agent", .script))
        #expect(fake.program(exe: python, ["python3", "/srv/agent/"]) == named("agent", .script))
        #expect(fake.program(exe: python, ["python3", "."], cwd: "/srv/agent") == named("agent", .script))
        #expect(fake.program(exe: python, ["python3", "/srv/agent/__main__.py"]) == named("agent", .script))
        #expect(fake.program(exe: python, ["python3", "/srv/tool.pyz"]) == named("tool", .script))
        #expect(fake.program(exe: python, ["python3", "bundle.zip"]) == named("bundle", .script))
    }

    // MARK: Node

    @Test func aNodeScriptIsNamedByItsNearestPackage() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/SillyTavern/package.json", #"{"name": "sillytavern", "version": "1.12.0"}"#)
        try fake.write("/srv/SillyTavern/src/server.js", "")
        #expect(fake.program(exe: node, ["node", "server.js"], cwd: "/srv/SillyTavern") == named("sillytavern", .nodePackage))
        let options = ["--max-old-space-size=4096", "-r", "dotenv/config", "--require", "x", "--inspect", "--experimental-vm-modules",
                       "--loader", "ts-node/esm", "--import", "tsx"]
        #expect(fake.program(exe: node, ["node"] + options + ["src/server.js", "--port", "8000"], cwd: "/srv/SillyTavern")
            == named("sillytavern", .nodePackage))
        // A directory given as the script is its own package.
        #expect(fake.program(exe: node, ["node", "."], cwd: "/srv/SillyTavern") == named("sillytavern", .nodePackage))
    }

    @Test func aNodePackageSearchPassesOverNamelessPackagesAndKeepsScopes() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/app/package.json", #"{"name": "@acme/chat-ui"}"#)
        try fake.write("/srv/app/dist/esm/package.json", #"{"type": "module"}"#)
        try fake.write("/srv/app/dist/cjs/package.json", #"{"name": 42}"#)
        try fake.write("/srv/app/dist/web/package.json", #"{"name": "  "}"#)
        for script in ["/srv/app/dist/esm/index.js", "/srv/app/dist/cjs/index.js", "/srv/app/dist/web/index.js"] {
            #expect(fake.program(exe: node, ["node", script]) == named("@acme/chat-ui", .nodePackage), "\(script)")
        }
    }

    @Test func aMalformedOrHugePackageJSONFallsBackToTheScript() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/outer/package.json", #"{"name": "outer"}"#)
        try fake.write("/srv/outer/bad/package.json", #"{"name": "unterminated"#)
        try fake.write("/srv/outer/huge/package.json", #"{"name": "huge", "x": ""# + String(repeating: "a", count: 70_000) + "\"}")
        try fake.write("/srv/outer/list/package.json", #"["name", "list"]"#)
        #expect(fake.program(exe: node, ["node", "/srv/outer/bad/index.js"]) == named("index.js", .script))
        #expect(fake.program(exe: node, ["node", "/srv/outer/huge/main.js"]) == named("main.js", .script))
        #expect(fake.program(exe: node, ["node", "/srv/outer/list/main.js"]) == named("main.js", .script))
        #expect(fake.program(exe: node, ["node", "/srv/outer/fine/main.js"]) == named("outer", .nodePackage))
    }

    @Test func aNodePackageSearchClimbsAtMostEightDirectories() throws {
        let fake = try ProgramRoot()
        try fake.write("/p/package.json", #"{"name": "far"}"#)
        // The script's directory and 7 above it reach /p from 8 levels down; 9 levels is too far.
        #expect(fake.program(exe: node, ["node", "/p/1/2/3/4/5/6/7/x.js"]) == named("far", .nodePackage))
        #expect(fake.program(exe: node, ["node", "/p/1/2/3/4/5/6/7/8/9/x.js"]) == named("x.js", .script))
    }

    @Test func nodeModulesBinariesAreNamedByTheirPackage() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/site/package.json", #"{"name": "my-site"}"#)
        try fake.write("/srv/site/node_modules/vite/package.json", #"{"name": "vite"}"#)
        try fake.write("/srv/site/node_modules/@angular/cli/package.json", #"{"name": "@angular/cli"}"#)
        #expect(fake.program(exe: node, ["node", "/srv/site/node_modules/.bin/vite", "dev"]) == named("vite", .nodePackage))
        #expect(fake.program(exe: node, ["node", "node_modules/vite/bin/vite.js"], cwd: "/srv/site") == named("vite", .nodePackage))
        #expect(fake.program(exe: node, ["node", "/srv/site/node_modules/@angular/cli/bin/ng.js"]) == named("@angular/cli", .nodePackage))
        #expect(fake.program(exe: node, ["node", "/srv/site/node_modules/.bin/tsc"]) == named("tsc", .nodePackage))
        #expect(fake.program(exe: node, ["node", "/srv/site/node_modules/left-pad/index.js"]) == named("left-pad", .nodePackage))
    }

    @Test func packageManagersAreNamedByTheirCommand() throws {
        let fake = try ProgramRoot()
        try fake.write("/usr/lib/node_modules/npm/package.json", #"{"name": "npm"}"#)
        let cases: [(String, String)] = [
            ("/usr/lib/node_modules/npm/bin/npm-cli.js", "npm"), ("/usr/lib/node_modules/npm/bin/npx-cli.js", "npx"),
            ("/usr/local/lib/node_modules/pnpm/bin/pnpm.cjs", "pnpm"), ("/usr/local/lib/node_modules/yarn/bin/yarn.js", "yarn"),
            ("/usr/lib/node_modules/corepack/dist/pnpm.js", "pnpm"),
        ]
        for (script, command) in cases {
            #expect(fake.program(exe: node, ["node", script, "install"]) == named(command, .nodePackage), "\(script)")
        }
    }

    @Test func aGlobalNpmCommandIsNamedByItsPackage() throws {
        let fake = try ProgramRoot()
        try fake.write("/usr/local/bin/sillytavern", "#!/usr/bin/env node\n")
        try fake.write("/usr/local/lib/node_modules/sillytavern/package.json", #"{"name": "sillytavern"}"#)
        #expect(fake.program(exe: node, ["node", "/usr/local/bin/sillytavern"]) == named("sillytavern", .nodePackage))
        #expect(fake.program(exe: node, ["node", "/usr/local/bin/other"]) == named("other", .script))
    }

    @Test func nodeInlineCodeIsNamedHonestly() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: node, ["node", "-e", "require('child_process')"]) == named("node -e", .script))
        #expect(fake.program(exe: node, ["node", "--eval=1"]) == named("node -e", .script))
        #expect(fake.program(exe: node, ["node", "-p", "1"]) == named("node -e", .script))
        #expect(fake.program(exe: node, ["node", "-"]) == named("node -", .script))
    }

    @Test func nodeRunIsNamedByTheWorkingDirectorysPackage() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/web/package.json", #"{"name": "web"}"#)
        #expect(fake.program(exe: node, ["node", "--run", "dev"], cwd: "/srv/web") == named("web", .nodePackage))
    }

    @Test func denoAndBunAreNamedByTheScript() throws {
        let fake = try ProgramRoot()
        try fake.write("/srv/b/package.json", #"{"name": "bun-app"}"#)
        let deno = "/home/u/.deno/bin/deno"
        let bun = "/home/u/.bun/bin/bun"
        #expect(fake.program(exe: deno, ["deno", "run", "--allow-net", "-c", "deno.json", "main.ts"]) == named("main.ts", .script))
        #expect(fake.program(exe: deno, ["deno", "serve", "https://example.com/std/server.ts"]) == named("server.ts", .script))
        #expect(fake.program(exe: deno, ["deno", "tool.ts"]) == named("tool.ts", .script))
        #expect(fake.program(exe: deno, ["deno", "eval", "1"]) == named("deno eval", .script))
        #expect(fake.program(exe: deno, ["deno", "upgrade"]) == named("deno", .executable))
        #expect(fake.program(exe: bun, ["bun", "run", "src/index.ts"]) == named("index.ts", .script))
        #expect(fake.program(exe: bun, ["bun", "index.ts"]) == named("index.ts", .script))
        #expect(fake.program(exe: bun, ["bun", "run", "dev"], cwd: "/srv/b") == named("bun-app", .nodePackage))
        #expect(fake.program(exe: bun, ["bun", "x", "cowsay@1.5.0", "hi"]) == named("cowsay", .nodePackage))
        #expect(fake.program(exe: bun, ["bunx", "cowsay"]) == named("cowsay", .nodePackage))
        #expect(fake.program(exe: bun, ["bun", "install"]) == named("bun", .executable))
    }

    // MARK: Ruby, Perl, PHP, Java, .NET, shells

    @Test func rubyPerlAndPHPAreNamedByTheScript() throws {
        let fake = try ProgramRoot()
        try fake.write("/usr/local/bin/bundle", "#!/usr/bin/ruby3.2\nrequire 'rubygems'\n")
        #expect(fake.program(exe: "/usr/bin/ruby3.2", ["ruby", "-w", "-I", "lib", "-rjson", "app.rb"]) == named("app.rb", .script))
        #expect(fake.program(exe: "/usr/bin/ruby3.2", ["ruby", "/usr/local/bin/bundle", "exec"]) == named("bundle", .consoleScript))
        #expect(fake.program(exe: "/usr/bin/ruby", ["ruby", "-e", "puts 1"]) == named("ruby -e", .script))
        #expect(fake.program(exe: "/usr/bin/ruby", ["ruby", "-S", "rake", "test"]) == named("rake", .script))
        #expect(fake.program(exe: "/usr/bin/perl", ["perl", "-T", "-Mstrict", "-I", "lib", "-x/tmp", "fetch.pl"]) == named("fetch.pl", .script))
        #expect(fake.program(exe: "/usr/bin/perl", ["perl", "-Mfeature=say", "-E", "say 1"]) == named("perl -E", .script))
        #expect(fake.program(exe: "/usr/bin/perl", ["perl", "-ne", "print"]) == named("perl -e", .script))
        #expect(fake.program(exe: "/usr/bin/php8.2", ["php", "-d", "memory_limit=1G", "artisan", "serve"]) == named("artisan", .script))
        #expect(fake.program(exe: "/usr/bin/php", ["php", "-f", "/var/www/cron.php"]) == named("cron.php", .script))
        #expect(fake.program(exe: "/usr/bin/php", ["php", "-r", "echo 1;"]) == named("php -r", .script))
        #expect(fake.program(exe: "/usr/bin/php", ["php", "-S", "0.0.0.0:8000", "-t", "public"]) == named("php -S", .script))
    }

    @Test func javaIsNamedByItsJarModuleOrMainClass() throws {
        let fake = try ProgramRoot()
        let java = "/usr/lib/jvm/java-21/bin/java"
        #expect(fake.program(exe: java, ["java", "-Xmx2g", "-Dx=y", "-jar", "/opt/app/server-1.2.jar", "--port", "1"])
            == named("server-1.2", .jar))
        #expect(fake.program(exe: java, ["java", "-cp", "lib/*:app.jar", "-XX:+UseG1GC", "com.example.Main"])
            == named("com.example.Main", .module))
        #expect(fake.program(exe: java, ["java", "--add-opens", "java.base/java.lang=ALL-UNNAMED", "-m", "org.acme.app/org.acme.Main"])
            == named("org.acme.app", .module))
        #expect(fake.program(exe: java, ["java", "Tool.java"]) == named("Tool.java", .script))
        #expect(fake.program(exe: java, ["java", "-version"]) == named("java", .executable))
    }

    @Test func dotnetIsNamedByItsAssembly() throws {
        let fake = try ProgramRoot()
        let dotnet = "/usr/share/dotnet/dotnet"
        #expect(fake.program(exe: dotnet, ["dotnet", "/app/Jellyfin.Server.dll"]) == named("Jellyfin.Server", .module))
        #expect(fake.program(exe: dotnet, ["dotnet", "exec", "--runtimeconfig", "x.json", "Api.dll"]) == named("Api", .module))
        #expect(fake.program(exe: dotnet, ["dotnet", "build"]) == named("dotnet", .executable))
    }

    @Test func shellsAreNamedByTheirScriptOrInlineCode() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: "/usr/bin/dash", ["sh", "-c", "curl x | sh"]) == named("sh -c", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["sh", "-c", "true"]) == named("sh -c", .script))
        #expect(fake.program(exe: "/usr/bin/dash", ["/tmp/x", "-c", "true"]) == named("dash -c", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["bash", "-ec", "true"]) == named("bash -c", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["bash", "-o", "pipefail", "-x", "./deploy.sh", "prod"]) == named("deploy.sh", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["/bin/bash", "/usr/local/bin/backup"]) == named("backup", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["-bash"]) == named("bash", .executable))
        #expect(fake.program(exe: "/usr/bin/bash", ["bash", "-s", "arg"]) == named("bash", .executable))
        #expect(fake.program(exe: "/usr/bin/zsh", ["zsh", "-l"]) == named("zsh", .executable))
    }

    // MARK: Apps

    @Test func anAppImageIsNamedByItsMount() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: "/tmp/.mount_CursorAbC123/usr/share/cursor/cursor", ["cursor"]) == named("cursor", .app))
        #expect(fake.program(exe: "/tmp/.mount_LM-StuxYz789/lm-studio", ["lm-studio"]) == named("lm-studio", .app))
        #expect(fake.program(exe: "/tmp/.mount_JanQwErTy/usr/bin/python3.11", ["python3", "x.py"]) == named("Jan", .app))
        #expect(fake.program(exe: "/run/user/1000/.mount_ComfyUabcdef/AppRun", ["AppRun"]) == named("ComfyU", .app))
    }

    @Test func aFlatpakIsNamedByItsApplicationID() throws {
        let fake = try ProgramRoot()
        try fake.write("/.flatpak-info", "[Application]\nname=com.jeffser.Alpaca\nruntime=runtime/org.gnome.Platform/x86_64/47\n\n[Instance]\ninstance-id=123\n")
        #expect(fake.program(exe: "/usr/bin/python3.12", ["python3", "/app/bin/alpaca"], tags: ["flatpak"])
            == named("com.jeffser.Alpaca", .app))
        // Without the tag the file is not read; a flatpak-info with no plausible id is not believed.
        #expect(fake.program(exe: "/app/bin/alpaca", ["alpaca"]) == named("alpaca", .executable))
        try fake.write("/.flatpak-info", "[Runtime]\nname=org.gnome.Sdk\n[Application]\nname=../../evil\n")
        #expect(fake.program(exe: "/app/bin/alpaca", ["alpaca"], tags: ["flatpak"]) == named("alpaca", .executable))
    }

    @Test func aSnapIsNamedBySnapButNotByItsBase() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: "/snap/firefox/5123/usr/lib/firefox/firefox", ["firefox"]) == named("firefox", .app))
        #expect(fake.program(exe: "/snap/ollama/12/bin/ollama", ["ollama", "serve"]) == named("ollama", .app))
        #expect(fake.program(exe: "/snap/core22/1380/usr/bin/python3.10", ["python3", "x.py"]) == named("x.py", .script))
    }

    @Test func anElectronAppIsRecognisedByItsBundledCode() throws {
        let fake = try ProgramRoot()
        try fake.write("/opt/LM Studio/resources/app.asar", "asar")
        try fake.write("/opt/LM Studio/lm-studio", "")
        #expect(fake.program(exe: "/opt/LM Studio/lm-studio", ["/opt/LM Studio/lm-studio", "--type=renderer"]) == named("lm-studio", .app))
        #expect(fake.program(exe: "/opt/tool/tool", ["tool"]) == named("tool", .executable))
        try fake.write("/home/u/chat/package.json", #"{"name": "chat-desktop", "main": "main.js"}"#)
        let electron = "/usr/lib/node_modules/electron/dist/electron"
        #expect(fake.program(exe: electron, ["electron", "--no-sandbox", "."], cwd: "/home/u/chat") == named("chat-desktop", .app))
        #expect(fake.program(exe: electron, ["electron", "/srv/demo"]) == named("demo", .app))
    }

    // MARK: Containers

    @Test func aDockerContainerIsNamedByItsRuntime() throws {
        let fake = try ProgramRoot()
        try fake.writeHost(
            "/var/lib/docker/containers/\(Self.dockerID)/config.v2.json",
            #"{"ID": "\#(Self.dockerID)", "Name": "/open-webui", "State": {"Running": true, "Pid": 4242}, "Config": {"Env": ["A=1"]}}"#
        )
        #expect(fake.program(exe: python, ["python3", "-m", "uvicorn", "open_webui.main:app"], container: Self.dockerID)
            == named("open-webui", .container))
        // Not found: the process is named by the other rules.
        let other = String(repeating: "cd", count: 32)
        #expect(fake.program(exe: python, ["python3", "app.py"], container: other) == named("app.py", .script))
    }

    @Test func aPodmanContainerIsNamedByTheContainerList() throws {
        let fake = try ProgramRoot()
        let id = String(repeating: "0f", count: 32)
        try fake.writeHost(
            "/var/lib/containers/storage/overlay-containers/containers.json",
            #"[{"id": "\#(String(repeating: "1", count: 64))", "names": ["other"]}, {"id": "\#(id)", "names": ["ollama", "alias"], "image": "x", "layer": "y", "created": "2024-01-01T00:00:00Z"}]"#
        )
        #expect(fake.program(exe: "/bin/ollama", ["ollama", "serve"], container: id) == named("ollama", .container))
        // A short id (from a `/docker/<id>` cgroup) matches by prefix.
        #expect(fake.program(exe: "/bin/ollama", ["ollama"], container: String(id.prefix(12))) == named("ollama", .container))
    }

    @Test func aKubernetesContainerIsNamedByItsCRIAnnotation() throws {
        let fake = try ProgramRoot()
        let id = String(repeating: "9e", count: 32)
        try fake.writeHost(
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/\(id)/config.json",
            #"{"ociVersion": "1.1.0", "annotations": {"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.container-name": "vllm"}}"#
        )
        #expect(fake.program(exe: python, ["python3", "-m", "vllm.entrypoints.openai.api_server"], container: id) == named("vllm", .container))
    }

    @Test func aContainerIDThatIsNotHexIsNeverPartOfAPath() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: "/bin/x", ["x"], container: "../../../etc/passwd") == named("x", .executable))
        #expect(fake.program(exe: "/bin/x", ["x"], container: "ABCDEF0123456789") == named("x", .executable))
        #expect(fake.reads.withLock { $0 }.isEmpty)
    }

    // MARK: Hostile input

    @Test func namesKeepControlCharactersButAreCappedAt128Bytes() throws {
        let fake = try ProgramRoot()
        let escape = "evil\u{1B}[2J\u{7}.py"
        #expect(fake.program(exe: python, ["python3", escape]) == named(escape, .script))
        let long = String(repeating: "é", count: 200) + ".py"
        let program = fake.program(exe: python, ["python3", "/tmp/" + long])
        #expect(program.name.utf8.count == 128)
        #expect(long.hasPrefix(program.name))
        #expect(fake.program(exe: "/usr/bin/" + String(repeating: "x", count: 300), []).name.utf8.count == 128)
    }

    @Test func hugeAndNumerousArgumentsAreBounded() throws {
        let fake = try ProgramRoot()
        let huge = String(repeating: "a", count: 100_000)
        #expect(fake.program(exe: python, ["python3", huge]).name == String(huge.prefix(128)))
        // Only an argument's first 4096 bytes are looked at: no longer path can have been opened.
        #expect(fake.program(exe: node, ["node", "/" + huge + "/x.js"]) == named(String(huge.prefix(128)), .script))
        #expect(fake.program(exe: python, ["python3", "-c", huge]) == named("python -c", .script))
        // A cluster of 100,000 flags is scanned in linear time.
        #expect(fake.program(exe: python, ["python3", "-" + String(repeating: "u", count: 100_000), "app.py"]) == named("app.py", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["bash", "-" + String(repeating: "x", count: 4000) + "c", "true"]) == named("bash -c", .script))
        #expect(fake.program(exe: "/usr/bin/bash", ["bash", "-" + String(repeating: "x", count: 100_000), "run.sh"]) == named("run.sh", .script))
        // Only the first 64 arguments are looked at.
        let flags = Array(repeating: "-u", count: 5000)
        #expect(fake.program(exe: python, ["python3"] + flags + ["app.py"]) == named("python3.11", .executable))
        #expect(fake.program(exe: python, ["python3", "app.py"] + flags) == named("app.py", .script))
        #expect(fake.reads.withLock { reads in reads.allSatisfy { $0.path.utf8.count <= 4096 } })
    }

    @Test func emptyOrMinimalInputStillNamesSomething() throws {
        let fake = try ProgramRoot()
        #expect(fake.program(exe: python, []) == named("python3.11", .executable))
        #expect(fake.program(exe: node, ["node"]) == named("node", .executable))
        #expect(fake.program(exe: python, ["python3", "-m"]) == named("python3.11", .executable))
        #expect(fake.program(exe: python, ["python3", "-X"]) == named("python3.11", .executable))
        #expect(fake.program(exe: "/usr/bin/java", ["java", "-jar"]) == named("java", .executable))
        #expect(fake.program(exe: python, ["python3", ""]) == named("python3.11", .executable))
        #expect(fake.program(exe: nil, [], comm: "") == named("?", .executable))
        #expect(fake.program(exe: "", [""], comm: "") == named("?", .executable))
        #expect(fake.program(exe: "/", [], comm: "init") == named("init", .executable))
    }

    @Test func readsAreFewAndBounded() throws {
        let fake = try ProgramRoot()
        try fake.write("/a/b/c/d/e/f/g/h/i/j/server.js", "")
        _ = fake.program(exe: node, ["node", "/a/b/c/d/e/f/g/h/i/j/server.js"])
        _ = fake.program(exe: python, ["python3", "/usr/local/bin/x"])
        _ = fake.program(exe: python, ["python3", "-m", "x"], container: Self.dockerID, tags: ["flatpak"])
        let reads = fake.reads.withLock { $0 }
        #expect(reads.count <= 20)
        for read in reads {
            let bound = read.path.hasSuffix("package.json") ? 64 * 1024 + 1 : (read.path.hasPrefix("/var") || read.path.hasPrefix("/run"))
                ? 1024 * 1024 + 1 : 64 * 1024
            #expect(read.limit <= bound, "\(read.path) \(read.limit)")
        }
        // The package search: the script itself, then at most 8 directories above it.
        #expect(reads.filter { $0.path.hasSuffix("package.json") }.count == 9)
    }

    @Test func hostileJSONIsRejectedWithoutCrashing() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(ProgramNamer.JSONValue.parse(deep) == nil)
        #expect(ProgramNamer.JSONValue.parse(Array("{\"name\": \"a\"} trailing".utf8)) == nil)
        #expect(ProgramNamer.JSONValue.parse(Array("{\"name\": \"tab\there\"}".utf8)) == nil)
        #expect(ProgramNamer.JSONValue.parse(Array("{\"a\": -}".utf8)) == nil)
        #expect(ProgramNamer.JSONValue.parse([]) == nil)
        let escaped = ProgramNamer.JSONValue.parse([0xEF, 0xBB, 0xBF] + Array(#"{"name": "caf\u00e9 \ud83d\ude00 \ud800 \"q\"", "n": [1.5e3, -2, true, null]}"#.utf8))
        #expect(escaped?["name"]?.string == "café 😀 \u{FFFD} \"q\"")
    }
}

// Interpreter command lines: one option scanner shared by every interpreter whose options follow the
// getopt style, and the rules for Ruby, Perl, PHP, Java, .NET and the shells.

extension ProgramNamer {
    /// How one interpreter's options are spelled, so the scanner can step over them to the program.
    struct OptionSyntax {
        /// Short options that take a value, attached (`-Wignore`) or in the next argument (`-W ignore`).
        var shortValue: Set<Character> = []
        /// Short options whose value can only be attached (`-x[dir]`, `-l[octal]`): the rest of the
        /// argument is theirs, the next argument is not.
        var shortAttached: Set<Character> = []
        /// Short options meaning the program is inline code (`-c`, `-e`).
        var shortCode: Set<Character> = []
        /// Short options whose value names the program (`python -m module`, `php -f file`).
        var shortProgram: Set<Character> = []
        /// Short options meaning no program will be named (a shell reading commands from stdin).
        var shortNone: Set<Character> = []
        /// Long options that take a value (`--opt value`; `--opt=value` needs no listing).
        var longValue: Set<String> = []
        var longCode: Set<String> = []
        var longProgram: Set<String> = []
        /// Shells also take options after `+` (`+o posix`).
        var plusOptions = false
    }

    /// Where the scanner stopped.
    enum Operand: Equatable {
        /// The first argument that is not an option: the script, at this index.
        case argument(Int)
        /// Inline code, with the option that introduced it (`-c`).
        case code(String)
        /// The program comes on standard input (`-`).
        case standardInput
        /// An option whose value names the program; `next` is the index after the value.
        case option(String, value: String, next: Int)
        /// Nothing names a program (a REPL, or arguments ran out).
        case none
    }

    /// Steps over options from `start` to what names the program.
    static func scan(_ arguments: [String], from start: Int = 1, _ syntax: OptionSyntax) -> Operand {
        var index = start
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return index + 1 < arguments.count ? .argument(index + 1) : .none }
            if argument == "-" { return .standardInput }
            if argument.hasPrefix("--") {
                let equals = argument.utf8.firstIndex(of: UInt8(ascii: "="))
                let name = equals.map { String(decoding: argument.utf8[..<$0], as: UTF8.self) } ?? argument
                let attached = equals.map { String(decoding: argument.utf8[argument.utf8.index(after: $0)...], as: UTF8.self) }
                if syntax.longCode.contains(name) { return .code(name) }
                if syntax.longProgram.contains(name) {
                    if let attached { return .option(name, value: attached, next: index + 1) }
                    guard index + 1 < arguments.count else { return .none }
                    return .option(name, value: arguments[index + 1], next: index + 2)
                }
                index += syntax.longValue.contains(name) && attached == nil ? 2 : 1
                continue
            }
            let isShort = argument.hasPrefix("-") || (syntax.plusOptions && argument.hasPrefix("+"))
            guard isShort, argument.count > 1 else { return .argument(index) }
            // Option letters are ASCII; any other byte is no option and is stepped over.
            let letters = Array(argument.utf8.dropFirst())
            var takesNext = false
            for (position, byte) in letters.enumerated() where byte < 0x80 {
                let letter = Character(Unicode.Scalar(byte))
                // The rest of the argument is only copied when it is a value: a cluster of 100,000
                // flags must stay linear.
                let isLast = position + 1 == letters.count
                if syntax.shortCode.contains(letter) { return .code("-" + String(letter)) }
                if syntax.shortNone.contains(letter) { return .none }
                if syntax.shortProgram.contains(letter) {
                    if !isLast {
                        let attached = String(decoding: letters[(position + 1)...], as: UTF8.self)
                        return .option("-" + String(letter), value: attached, next: index + 1)
                    }
                    guard index + 1 < arguments.count else { return .none }
                    return .option("-" + String(letter), value: arguments[index + 1], next: index + 2)
                }
                if syntax.shortValue.contains(letter) {
                    takesNext = isLast
                    break
                }
                if syntax.shortAttached.contains(letter) { break }
            }
            index += takesNext ? 2 : 1
        }
        return .none
    }

    /// A script file run by an interpreter: its basename. It is a console script when an installer
    /// put it in a `bin/` directory without an extension and its `#!` line names `interpreters`
    /// (gem and CPAN stubs; pip's are recognised by `pythonScript`). A file that cannot be read (it was
    /// deleted, or the path is relative and the cwd unknown) is still named honestly, as a script.
    func scriptProgram(_ path: String, cwd: String?, interpreters: [String]) -> Program {
        let name = Self.basename(path)
        guard let absolute = Self.absolute(path, cwd: cwd), Self.isInBinDirectory(absolute), !Self.contains(name, "."),
              let head = head(of: absolute), Self.shebang(head, names: interpreters)
        else { return Program(name: name, kind: .script) }
        return Program(name: name, kind: .consoleScript)
    }

    /// Whether a path's directory is a `bin` or `sbin` directory (`/usr/local/bin`, `~/.venv/bin`).
    static func isInBinDirectory(_ absolute: String) -> Bool {
        let directory = basename(dirname(absolute))
        return directory == "bin" || directory == "sbin"
    }

    // MARK: Ruby, Perl, PHP

    /// `ruby [options] script` → the script (`-e` → `ruby -e`; `-S name` runs `name` from PATH).
    func rubyProgram(arguments: [String], cwd: String?) -> Program? {
        var syntax = OptionSyntax()
        syntax.shortValue = ["I", "r", "C", "E"]
        syntax.shortAttached = ["x", "F", "0", "K", "T", "W"]
        syntax.shortCode = ["e"]
        syntax.shortProgram = ["S"]
        syntax.longValue = ["--encoding", "--external-encoding", "--internal-encoding", "--enable", "--disable", "--dump"]
        return interpreted(family: "ruby", Self.scan(arguments, syntax), arguments: arguments, cwd: cwd, interpreters: ["ruby"])
    }

    /// `perl [options] script` → the script (`-e`/`-E` → `perl -e`).
    func perlProgram(arguments: [String], cwd: String?) -> Program? {
        var syntax = OptionSyntax()
        syntax.shortValue = ["I"]
        syntax.shortAttached = ["M", "m", "x", "l", "0", "C", "d", "D", "i", "F", "V"]
        syntax.shortCode = ["e", "E"]
        return interpreted(family: "perl", Self.scan(arguments, syntax), arguments: arguments, cwd: cwd, interpreters: ["perl"])
    }

    /// `php [options] script` or `php -f script` → the script (`-r` → `php -r`; the built-in web
    /// server `-S addr` → `php -S`).
    func phpProgram(arguments: [String]) -> Program? {
        var syntax = OptionSyntax()
        syntax.shortValue = ["d", "c", "z", "t"]
        syntax.shortCode = ["r", "B", "R", "E", "S"]
        syntax.shortProgram = ["f", "F"]
        syntax.longValue = ["--php-ini", "--define", "--zend-extension", "--docroot"]
        syntax.longCode = ["--run", "--process-begin", "--process-code", "--process-end", "--server"]
        syntax.longProgram = ["--file", "--process-file"]
        switch Self.scan(arguments, syntax) {
        case .argument(let index): return Program(name: Self.basename(arguments[index]), kind: .script)
        case .option(_, let file, _): return Program(name: Self.basename(file), kind: .script)
        case .code(let flag): return Program(name: "php " + flag, kind: .script)
        case .standardInput: return Program(name: "php -", kind: .script)
        case .none: return nil
        }
    }

    /// The common ending of Ruby's and Perl's rules.
    private func interpreted(family: String, _ operand: Operand, arguments: [String], cwd: String?, interpreters: [String]) -> Program? {
        switch operand {
        case .argument(let index): scriptProgram(arguments[index], cwd: cwd, interpreters: interpreters)
        // `ruby -S rake` looks `rake` up on PATH: the name is all we can honestly say.
        case .option(_, let value, _): Program(name: Self.basename(value), kind: .script)
        case .code(let flag): Program(name: family + " " + flag, kind: .script)
        case .standardInput: Program(name: family + " -", kind: .script)
        case .none: nil
        }
    }

    // MARK: Java and .NET

    /// `java -jar app.jar` → `app` (`.jar`); `java -m mod/Main` → `mod` (`.module`);
    /// `java [options] com.example.Main` → `com.example.Main` whole (`.module`: a last component alone
    /// like `Main` or `Server` says little); `java Tool.java` (source launcher) → `Tool.java`.
    func javaProgram(arguments: [String]) -> Program? {
        // Options written with one dash whose value is the next argument.
        let valueOptions: Set<String> = [
            "-cp", "-classpath", "--class-path", "-p", "--module-path", "--upgrade-module-path", "--add-modules",
            "--enable-native-access", "--add-opens", "--add-exports", "--add-reads", "--patch-module",
            "--limit-modules", "--source", "-d", "--describe-module",
        ]
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "-jar" || argument == "--jar" {
                guard index + 1 < arguments.count else { return nil }
                return Program(name: Self.removingExtension(Self.basename(arguments[index + 1]), [".jar", ".JAR"]), kind: .jar)
            }
            if argument == "-m" || argument == "--module" || argument.hasPrefix("--module=") {
                let value = argument.hasPrefix("--module=")
                    ? String(argument.dropFirst("--module=".count))
                    : (index + 1 < arguments.count ? arguments[index + 1] : "")
                let module = Self.components(value).first ?? ""
                return module.isEmpty ? nil : Program(name: module, kind: .module)
            }
            if valueOptions.contains(argument) {
                index += 2
                continue
            }
            // Options, and `@argfiles` whose contents we do not read.
            if argument.hasPrefix("-") || argument.hasPrefix("@") {
                index += 1
                continue
            }
            if argument.hasSuffix(".java") { return Program(name: Self.basename(argument), kind: .script) }
            return Program(name: argument, kind: .module)
        }
        return nil
    }

    /// `dotnet [exec] [host options] app.dll` → `app` (`.module`: an assembly). Other commands
    /// (`dotnet run`, `dotnet build`) are the SDK itself and keep the executable's name.
    func dotnetProgram(arguments: [String]) -> Program? {
        let valueOptions: Set<String> = [
            "--depsfile", "--runtimeconfig", "--additionalprobingpath", "--additional-deps", "--fx-version",
            "--roll-forward", "--roll-forward-on-no-candidate-fx",
        ]
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "exec" && index == 1 {
                index += 1
                continue
            }
            if valueOptions.contains(argument) {
                index += 2
                continue
            }
            if argument.hasPrefix("-") {
                index += 1
                continue
            }
            let name = Self.basename(argument)
            guard name.hasSuffix(".dll") || name.hasSuffix(".DLL") else { return nil }
            return Program(name: Self.removingExtension(name, [".dll", ".DLL"]), kind: .module)
        }
        return nil
    }

    // MARK: Shells

    /// `sh -c "…"` → `sh -c`, `bash -c "…"` → `bash -c`; `bash script.sh` → `script.sh`.
    /// Inline code is called after the name the shell was invoked by when that is a shell's name
    /// (`/bin/sh` is dash on Debian and bash on Fedora; both say `sh -c`), else after the executable.
    /// An interactive or login shell, or one reading commands from stdin, runs no named program and
    /// keeps the executable's name.
    func shellProgram(shell: String, arguments: [String]) -> Program? {
        var name = shell
        if let first = arguments.first {
            let invoked = String(Self.basename(first).drop { $0 == "-" })
            if case .shell? = Interpreter(executableName: invoked) { name = invoked }
        }
        var syntax = OptionSyntax()
        syntax.shortValue = ["o", "O"]
        syntax.shortCode = ["c"]
        syntax.shortNone = ["s", "i"]
        syntax.longValue = ["--rcfile", "--init-file"]
        syntax.longCode = ["--command"]  // fish
        syntax.plusOptions = true
        switch Self.scan(arguments, syntax) {
        case .argument(let index): return Program(name: Self.basename(arguments[index]), kind: .script)
        case .code: return Program(name: name + " -c", kind: .script)
        case .option, .standardInput, .none: return nil
        }
    }
}

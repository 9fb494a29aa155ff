import Foundation
import Posix
import Testing
import TestSupport

/// `telltale top` driven as a person would: in tmux, keys sent, the screen read back, while a daemon
/// records two real programs streaming over loopback at known rates.
@Suite(.serialized) struct TopTerminalTests {
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "needs root (the daemon captures)" }
        guard let found = try? TestProcess.run(["sh", "-c", "command -v tmux"]), found.status == 0 else {
            return "tmux is not installed (scripts/setup.sh installs it)"
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3.11") || FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            return "no system python3 to copy under two program names"
        }
        guard BuiltExecutable.path("telltale") != nil else { return "the telltale executable is not built next to the tests" }
        return nil
    }()

    /// A UDP sender at `rate` IP-layer bytes per second (1,000-byte datagrams plus 28 bytes of headers).
    static let sender = """
        import os, socket, sys, time
        rate, port, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        per = rate / 1028.0
        start = time.time(); sent = 0; parent = os.getppid()
        while time.time() - start < seconds and os.getppid() == parent:
            due = int((time.time() - start) * per) + 1
            while sent < due:
                s.sendto(b'x' * 1000, ('127.0.0.1', port)); sent += 1
            time.sleep(0.01)
        """
    static let sink = """
        import os, socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', int(sys.argv[1]))); s.settimeout(1)
        parent = os.getppid()
        while os.getppid() == parent:
            try: s.recv(65536)
            except socket.timeout: pass
        """

    /// One tmux server of our own (its own socket), so no one else's sessions are touched.
    struct Tmux {
        let socket: String
        let session = "top"

        /// Runs a tmux command to its end. Not through Foundation's Process: the server tmux forks
        /// keeps whatever its client inherited, and Process waits for that to close.
        func run(_ arguments: [String]) throws -> String {
            let starts = arguments.first == "new-session"
            let command = ["tmux", "-L", socket] + arguments
            // The server is detached from every descriptor of ours, standard error included.
            let child = try ChildProcess(
                starts ? ["sh", "-c", "exec \"$@\" 2>/dev/null", "sh"] + command : command, input: .discard,
                output: starts ? .discard : .pipe)
            let output = String(decoding: child.readOutput(), as: UTF8.self)
            let status = child.wait()
            if status != 0 { throw TestProcess.Failure("tmux \(arguments.joined(separator: " ")) exited with \(status)") }
            return output
        }

        func keys(_ keys: String...) throws { _ = try run(["send-keys", "-t", session] + keys) }
        func screen() throws -> [String] {
            var lines = try run(["capture-pane", "-p", "-t", session]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }  // the newline ending the last line
            return lines
        }

        /// Waits until the screen satisfies `condition`, up to `seconds`; returns the last screen.
        func waitFor(seconds: Double, _ condition: ([String]) -> Bool) throws -> [String] {
            let deadline = Date().addingTimeInterval(seconds)
            var last = try screen()
            while Date() < deadline {
                if condition(last) { return last }
                Thread.sleep(forTimeInterval: 0.25)
                last = try screen()
            }
            return last
        }
    }

    /// Bytes per second in a `top` row: the first "number unit" after the name.
    static func rate(_ line: String) -> Double? {
        let tokens = line.split(separator: " ").map(String.init)
        for (i, t) in tokens.enumerated() where i + 1 < tokens.count {
            guard let v = Double(t) else { continue }
            switch tokens[i + 1] {
            case "B": return v
            case "KiB": return v * 1024
            case "MiB": return v * 1_048_576
            default: continue
            }
        }
        return nil
    }

    @Test(.enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
    func topShowsTwoProgramsAtTheirRatesAnswersKeysResizesAndRestoresTheTerminal() throws {
        let dir = try ScratchDirectory.make("top-tmux")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3.11") ? "/usr/bin/python3.11" : "/usr/bin/python3"
        // Two programs: the same interpreter under two names, so each is its own executable.
        for name in ["alpha-sender", "beta-sender"] { try FileManager.default.copyItem(atPath: python, toPath: "\(dir)/\(name)") }
        try Self.sender.write(toFile: "\(dir)/send.py", atomically: true, encoding: .utf8)
        try Self.sink.write(toFile: "\(dir)/sink.py", atomically: true, encoding: .utf8)
        let db = dir + "/flows.db"
        let base = 40_000 + Int(getpid() % 5_000) * 2
        let daemon = try TestProcess.Background(
            [BuiltExecutable.telltale, "daemon", "--db", db, "-i", "lo", "--flush-interval", "500ms"], directory: dir, name: "daemon")
        defer { daemon.stop() }
        #expect(daemon.waitFor("capturing", seconds: 20), "daemon: \(daemon.error)")
        let sinks = try [base, base + 1].map { try TestProcess.Background(["python3", "\(dir)/sink.py", String($0)], directory: dir, name: "sink\($0)") }
        defer { sinks.forEach { $0.stop() } }
        let alphaRate = 30_000.0, betaRate = 100_000.0
        let alpha = try TestProcess.Background(["\(dir)/alpha-sender", "\(dir)/send.py", String(Int(alphaRate)), String(base), "60"], directory: dir, name: "alpha")
        let beta = try TestProcess.Background(["\(dir)/beta-sender", "\(dir)/send.py", String(Int(betaRate)), String(base + 1), "60"], directory: dir, name: "beta")
        defer { alpha.stop(); beta.stop() }

        let tmux = Tmux(socket: "tt-top-\(getpid())")
        _ = try tmux.run([
            "new-session", "-d", "-s", tmux.session, "-x", "80", "-y", "24",
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color PS1='READY$ ' bash --norc --noprofile",
        ])
        defer { _ = try? tmux.run(["kill-server"]) }
        _ = try tmux.waitFor(seconds: 5) { $0.contains { $0.contains("READY$") } }
        try tmux.keys("\(BuiltExecutable.telltale) top --db \(db)", "Enter")

        // 80x24: both programs, beta first (sorted by rate out), rates within 20% once the window fills.
        func rates(_ screen: [String]) -> (Double?, Double?) {
            (screen.first { $0.contains("alpha-sender") }.flatMap(Self.rate), screen.first { $0.contains("beta-sender") }.flatMap(Self.rate))
        }
        var screen = try tmux.waitFor(seconds: 30) { s in
            let (a, b) = rates(s)
            guard let a, let b else { return false }
            return abs(a - alphaRate) <= alphaRate * 0.2 && abs(b - betaRate) <= betaRate * 0.2
        }
        let text = screen.joined(separator: "\n")
        #expect(screen.count == 24, "\(text)")
        #expect(screen.allSatisfy { $0.count <= 80 }, "\(text)")
        #expect(screen[0].contains("daemon database"), "top says where its flows come from: \(screen[0])")
        let (a, b) = rates(screen)
        #expect(a.map { abs($0 - alphaRate) <= alphaRate * 0.2 } == true, "alpha rate \(String(describing: a)) of \(alphaRate): \(text)")
        #expect(b.map { abs($0 - betaRate) <= betaRate * 0.2 } == true, "beta rate \(String(describing: b)) of \(betaRate): \(text)")
        let alphaLine = screen.firstIndex { $0.contains("alpha-sender") } ?? -1
        let betaLine = screen.firstIndex { $0.contains("beta-sender") } ?? -1
        #expect(betaLine >= 0 && betaLine < alphaLine, "sorted by rate out: \(text)")
        // At 80 columns a 20-character destination with its scope shows whole, and the status line fits.
        #expect(screen.contains { $0.contains("alpha-sender") && $0.contains("127.0.0.1 (loopback)") }, "destination with its scope: \(text)")
        #expect(screen.last?.contains("cov ") == true && screen.last?.contains("drops") == true && screen.last?.hasSuffix("…") == false, "\(text)")

        // n: by name, alpha before beta.
        try tmux.keys("n")
        screen = try tmux.waitFor(seconds: 5) { s in
            let a = s.firstIndex { $0.contains("alpha-sender") }, b = s.firstIndex { $0.contains("beta-sender") }
            return a != nil && b != nil && a! < b! && s[1].contains("sort: name")
        }
        #expect(screen[1].contains("sort: name"), "\(screen.joined(separator: "\n"))")
        #expect((screen.firstIndex { $0.contains("alpha-sender") } ?? 99) < (screen.firstIndex { $0.contains("beta-sender") } ?? -1))

        // P: per process, each with its pid; the arrow keys scroll without leaving the view.
        try tmux.keys("P")
        screen = try tmux.waitFor(seconds: 5) { $0.first?.contains("per process") == true && $0.contains { $0.contains("alpha-sender [") } }
        #expect(screen.contains { $0.contains("alpha-sender [") }, "\(screen.joined(separator: "\n"))")
        try tmux.keys("Down")
        try tmux.keys("Up")
        screen = try tmux.waitFor(seconds: 5) { $0.first?.contains("per process") == true }
        #expect(screen[0].contains("per process"), "an arrow key is a scroll, not an Escape: \(screen.joined(separator: "\n"))")

        // d: per destination, with the programs beside it.
        try tmux.keys("d")
        screen = try tmux.waitFor(seconds: 5) { $0.first?.contains("per destination") == true }
        #expect(screen[0].contains("per destination"), "\(screen.joined(separator: "\n"))")
        #expect(screen.contains { $0.contains("127.0.0.1") && $0.contains("beta-") }, "\(screen.joined(separator: "\n"))")

        // ?: help; any key closes it; p: back to programs.
        try tmux.keys("?")
        screen = try tmux.waitFor(seconds: 5) { $0.contains { $0.contains("telltale top: keys") } }
        #expect(screen.contains { $0.contains("telltale top: keys") })
        try tmux.keys("x")
        try tmux.keys("p")
        screen = try tmux.waitFor(seconds: 5) { s in s.first?.contains("per program") == true && !s.contains { $0.contains("telltale top: keys") } }
        #expect(!screen.contains { $0.contains("telltale top: keys") })

        // 200x50: laid out again to the new size.
        _ = try tmux.run(["resize-window", "-t", tmux.session, "-x", "200", "-y", "50"])
        screen = try tmux.waitFor(seconds: 5) { $0.count == 50 && $0[0].count > 80 }
        let wide = screen.joined(separator: "\n")
        #expect(screen.count == 50, "\(wide)")
        #expect(screen[0].count > 80 && screen.allSatisfy { $0.count <= 200 }, "\(wide)")
        #expect(screen[0].contains("read while it writes"), "the whole first line fits now: \(screen[0])")
        #expect(screen.last?.contains("socket events dropped") == true, "\(wide)")

        // Ctrl-C: the shell is back, its screen as it was, and the terminal is sane.
        try tmux.keys("C-c")
        screen = try tmux.waitFor(seconds: 5) { s in !s.contains { $0.contains("telltale top ·") } && s.contains { $0.hasPrefix("READY$") } }
        #expect(!screen.contains { $0.contains("telltale top ·") }, "the alternate screen is gone: \(screen.joined(separator: "\n"))")
        #expect(screen.contains { $0.contains("READY$") && $0.contains("top --db") }, "the shell's own screen is back")
        try tmux.keys("stty -a > \(dir)/stty.txt; echo STTY-$((40 + 2))", "Enter")
        _ = try tmux.waitFor(seconds: 5) { $0.contains { $0.hasPrefix("STTY-42") } }
        let stty = TestProcess.contents("\(dir)/stty.txt")
        let settings = Set(stty.split(whereSeparator: \.isWhitespace).map(String.init))
        for setting in ["icanon", "echo", "isig", "icrnl", "ixon", "iexten"] { #expect(settings.contains(setting), "stty -a lacks \(setting): \(stty)") }
        #expect(!settings.contains("-icanon") && !settings.contains("-echo"), "\(stty)")
        let cursor = try tmux.run(["display-message", "-p", "-t", tmux.session, "#{cursor_flag} #{alternate_on}"])
        #expect(cursor.trimmingCharacters(in: .whitespacesAndNewlines) == "1 0", "cursor shown, alternate screen off: \(cursor)")
    }

    @Test(.enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
    func sigtermRestoresTheTerminalToo() throws {
        let dir = try ScratchDirectory.make("top-term")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tmux = Tmux(socket: "tt-top-term-\(getpid())")
        _ = try tmux.run([
            "new-session", "-d", "-s", tmux.session, "-x", "80", "-y", "24",
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color PS1='READY$ ' bash --norc --noprofile",
        ])
        defer { _ = try? tmux.run(["kill-server"]) }
        _ = try tmux.waitFor(seconds: 5) { $0.contains { $0.contains("READY$") } }
        // No daemon with this database: top captures by itself, and says so.
        try tmux.keys("\(BuiltExecutable.telltale) top --db \(dir)/none.db -i lo & echo $! > \(dir)/pid; fg", "Enter")
        var screen = try tmux.waitFor(seconds: 20) { $0.contains { $0.contains("telltale top ·") } }
        #expect(screen[0].contains("own capture on lo"), "\(screen.joined(separator: "\n"))")
        let topPID = try #require(Int32(TestProcess.contents("\(dir)/pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(topPID, SIGTERM)
        screen = try tmux.waitFor(seconds: 10) { s in !s.contains { $0.contains("telltale top ·") } }
        #expect(!screen.contains { $0.contains("telltale top ·") }, "\(screen.joined(separator: "\n"))")
        let deadline = Date().addingTimeInterval(10)
        while kill(topPID, 0) == 0 && Date() < deadline { usleep(50_000) }
        #expect(kill(topPID, 0) != 0, "top ended within 10 s of SIGTERM")
        try tmux.keys("stty -a > \(dir)/stty.txt; echo STTY-$((40 + 2))", "Enter")
        _ = try tmux.waitFor(seconds: 10) { $0.contains { $0.hasPrefix("STTY-42") } }
        let stty = TestProcess.contents("\(dir)/stty.txt")
        let settings = Set(stty.split(whereSeparator: \.isWhitespace).map(String.init))
        #expect(settings.contains("icanon") && settings.contains("echo") && settings.contains("isig"), "\(stty)")
    }
}

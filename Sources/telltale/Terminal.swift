import Dispatch
import Posix
import Reporting
#if canImport(Glibc)
import Glibc
#endif

/// The terminal while `top` runs full-screen: keys read one at a time without echo, the alternate
/// screen, the cursor hidden; and everything put back on exit, Ctrl-C or SIGTERM.
///
/// Ctrl-C stays a signal (ISIG is kept), so a stuck refresh can still be interrupted. SIGINT, SIGTERM,
/// SIGHUP and SIGWINCH arrive through dispatch sources that write one byte each to a pipe, which
/// the main loop polls beside standard input: the loop wakes at once on a key, a resize or a stop.
final class Terminal {
    /// What woke the loop.
    enum Event: Equatable {
        case key(UInt8)
        /// An arrow or paging key (an escape sequence).
        case special(TopScreen.SpecialKey)
        case resize
        case stop
        case timeout
    }

    private var saved = termios()
    /// Bytes read from the terminal and not yet handed out (a paste, an escape sequence).
    private var pending: [UInt8] = []
    private var active = false
    private let wake: (read: Int32, write: Int32)
    private var sources: [any DispatchSourceSignal] = []
    nonisolated(unsafe) private static var restoreText: [UInt8] = []  // written once before raw mode begins
    nonisolated(unsafe) private static var savedForExit = termios()  // same

    init() throws(TerminalError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TerminalError(SystemError("cannot make a pipe")) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        restore()
        close(wake.read)
        close(wake.write)
    }

    /// Raw keys, alternate screen, hidden cursor. The corresponding C function is `tcsetattr`.
    func enter() throws(TerminalError) {
        guard isatty(0) == 1, isatty(1) == 1 else { throw TerminalError("top needs a terminal; use --once for scripts") }
        guard tcgetattr(0, &saved) == 0 else { throw TerminalError(SystemError("cannot read the terminal's settings")) }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        // VMIN 0, VTIME 0: a read returns what is there; poll() does the waiting.
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        Terminal.savedForExit = saved
        Terminal.restoreText = Array("\u{1b}[0m\u{1b}[?25h\u{1b}[?1049l".utf8)
        guard tcsetattr(0, TCSAFLUSH, &raw) == 0 else { throw TerminalError(SystemError("cannot set the terminal's mode")) }
        active = true
        // Should anything call exit() while the screen is ours, the terminal still comes back.
        atexit { Terminal.restoreAtExit() }
        write("\u{1b}[?1049h\u{1b}[?25l\u{1b}[2J")
        for number in [SIGINT, SIGTERM, SIGHUP, SIGWINCH] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let fd = wake.write
            let byte: UInt8 = number == SIGWINCH ? 1 : 2
            source.setEventHandler {
                var b = byte
                _ = Glibc.write(fd, &b, 1)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Puts the terminal back as it was; safe to call more than once. The mode comes back before
    /// the shell's screen does, and without discarding input (TCSADRAIN, not TCSAFLUSH): what a
    /// person types once they see their shell again reaches the shell.
    func restore() {
        guard active else { return }
        active = false
        tcsetattr(0, TCSADRAIN, &saved)
        write("\u{1b}[0m\u{1b}[?25h\u{1b}[?1049l")
    }

    private static func restoreAtExit() {
        guard !restoreText.isEmpty else { return }
        tcsetattr(0, TCSADRAIN, &savedForExit)
        restoreText.withUnsafeBytes { _ = Glibc.write(1, $0.baseAddress, $0.count) }
    }

    /// The terminal's size in columns and rows. The corresponding C call is `ioctl(TIOCGWINSZ)`.
    var size: (width: Int, height: Int) {
        var w = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 { return (Int(w.ws_col), Int(w.ws_row)) }
        return (80, 24)
    }

    /// Writes all of `text` to standard output.
    func write(_ text: String) {
        try? FileDescriptor.writeAll(1, text.utf8, what: "write the terminal")
    }

    /// Waits up to `milliseconds` for a key, a resize or a stop. The corresponding C function is `poll`.
    func next(milliseconds: Int32) -> Event {
        if let event = takePending() { return event }
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, 2, max(0, milliseconds))
        guard n > 0 else { return .timeout }
        if fds[1].revents & Int16(POLLIN) != 0 {
            var b: UInt8 = 0
            if read(wake.read, &b, 1) == 1 { return b == 1 ? .resize : .stop }
        }
        if fds[0].revents & Int16(POLLIN) != 0 {
            var bytes = [UInt8](repeating: 0, count: 64)
            let got = read(0, &bytes, bytes.count)
            if got > 0 {
                pending += bytes[0..<got]
                if let event = takePending() { return event }
            }
            if got == 0 { return .stop }  // the terminal went away
        }
        if fds[0].revents & Int16(POLLHUP) != 0 { return .stop }
        return .timeout
    }
}

extension Terminal {
    /// The next key of what was read: an escape sequence whole, else one byte.
    private func takePending() -> Event? {
        guard let first = pending.first else { return nil }
        if let (key, length) = TopScreen.special(in: pending[...]) {
            pending.removeFirst(length)
            return .special(key)
        }
        pending.removeFirst()
        return .key(first)
    }
}

/// Why the terminal could not be taken over.
struct TerminalError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
    init(_ failure: SystemError) { self.description = failure.description }
}

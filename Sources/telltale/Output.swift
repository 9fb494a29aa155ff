#if canImport(Glibc)
import Glibc
#endif
import Posix

/// Buffered writing to standard output and error, and what the terminal can do.
enum Output {
    nonisolated(unsafe) private static var pending: [UInt8] = []  // main thread only

    static func write(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if pending.count >= 1 << 16 { flush() }
    }

    static func flush() {
        guard !pending.isEmpty else { return }
        // Standard output that cannot take the text (a full disk behind a redirection) has no
        // one left to tell; what follows is dropped with it, as it always was.
        try? FileDescriptor.writeAll(1, pending, what: "write standard output")
        pending.removeAll(keepingCapacity: true)
    }

    static func error(_ text: String) {
        flush()
        let line = text.hasSuffix("\n") ? text : text + "\n"
        try? FileDescriptor.writeAll(2, line.utf8, what: "write standard error")
    }

    static var isTerminal: Bool { isatty(1) == 1 && getenv("NO_COLOR") == nil }

    static var terminalWidth: Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 160
    }
}

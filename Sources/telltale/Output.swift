#if canImport(Glibc)
import Glibc
#endif

/// Buffered writing to standard output and error, and what the terminal can do.
enum Output {
    nonisolated(unsafe) private static var pending: [UInt8] = []  // main thread only

    static func write(_ text: String) {
        pending.append(contentsOf: text.utf8)
        if pending.count >= 1 << 16 { flush() }
    }

    static func flush() {
        guard !pending.isEmpty else { return }
        pending.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
        pending.removeAll(keepingCapacity: true)
    }

    static func error(_ text: String) {
        flush()
        let line = text.hasSuffix("\n") ? text : text + "\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    }

    static var isTerminal: Bool { isatty(1) == 1 && getenv("NO_COLOR") == nil }

    static var terminalWidth: Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 160
    }
}

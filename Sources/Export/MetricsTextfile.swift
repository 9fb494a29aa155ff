#if canImport(Glibc)
import Glibc
#endif

/// Writes the metrics for node-exporter's textfile collector: to a temporary file beside the
/// target, then renamed over it, so a scrape never reads half a file. The file is world-readable
/// (0644): node-exporter runs as its own user.
public struct MetricsTextfile: Sendable {
    public let path: String

    public init(path: String) throws(ExportError) {
        guard path.hasSuffix(".prom") else {
            throw ExportError("metrics.textfile '\(path)'", "node-exporter reads only files ending in .prom")
        }
        self.path = path
    }

    /// Replaces the file's content with `text`.
    public func write(_ text: String) throws(ExportError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ExportError("write \(temporary)", String(cString: strerror(errno))) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let message = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw ExportError("write \(temporary)", message)
            }
            offset += n
        }
        fchmod(fd, 0o644)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw ExportError("rename \(temporary) to \(path)", message)
        }
    }
}

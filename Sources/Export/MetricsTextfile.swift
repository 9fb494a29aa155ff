import Posix

/// Writes the metrics for node-exporter's textfile collector: to a temporary file beside the
/// target, then renamed over it (`PrivateFile.write`), so a scrape never reads half a file. The
/// file is world-readable (0644): node-exporter runs as its own user.
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
        do {
            try PrivateFile.write(Array(text.utf8), to: path, mode: 0o644)
        } catch {
            throw ExportError(error)
        }
    }
}

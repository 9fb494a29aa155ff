/// How a report prints: a table for people, the JSON contract for programs, or Zeek's conn.log
/// layout (TSV with its header lines, or JSON lines) for pipelines that ingest Zeek.
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, json, ndjson, csv, zeek
    case zeekJSON = "zeek-json"

    /// Whether the format lists flows only (no groups, no alerts).
    public var isFlowOnly: Bool { self == .zeek || self == .zeekJSON }
}

/// How a report prints: a table for people, or the JSON contract for programs.
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, json, ndjson, csv
}

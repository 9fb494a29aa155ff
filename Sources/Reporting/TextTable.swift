/// Aligned columns for terminal tables: widths from the content, chosen columns right-aligned, the
/// header in bold and long lines cut at the terminal's width (both only on a terminal).
struct TextTable {
    var headers: [String]
    var rows: [[String]]
    var rightAligned: Set<Int>
    var terminal: Bool
    var terminalWidth = 160

    func render(includeHeader: Bool = true) -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func format(_ cells: [String], bold: Bool) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[i] - cell.count))
                parts.append(rightAligned.contains(i) ? padding + cell : (i == cells.count - 1 ? cell : cell + padding))
            }
            var line = parts.joined(separator: "  ")
            if terminal && line.count > terminalWidth { line = String(line.prefix(terminalWidth - 1)) + "…" }
            return bold && terminal ? "\u{1b}[1m" + line + "\u{1b}[0m" : line
        }
        var out = includeHeader ? format(headers, bold: true) + "\n" : ""
        for row in rows { out += format(row, bold: false) + "\n" }
        return out
    }
}

import Posix
import Reporting

/// Prints flows as they end: streaming formats go out at once; the table and JSON are sorted by
/// start time and printed at the end.
struct FlowPrinter {
    let renderer: FlowRenderer
    private var held: [FlowRow] = []
    private(set) var printed = 0
    /// Bytes of every flow printed, and of those with a process: the coverage line.
    private(set) var bytes: Int64 = 0
    private(set) var attributedBytes: Int64 = 0

    init(renderer: FlowRenderer) {
        self.renderer = renderer
        Output.write(renderer.header())
    }

    private var streams: Bool { [.ndjson, .csv, .zeek, .zeekJSON].contains(renderer.format) }

    mutating func add(_ rows: [FlowRow]) {
        for row in rows {
            bytes += row.bytesOut + row.bytesIn
            if row.process != nil { attributedBytes += row.bytesOut + row.bytesIn }
            if streams {
                Output.write(renderer.streamRow(row, index: printed))
                printed += 1
            } else {
                held.append(row)
            }
        }
        if streams { Output.flush() }
    }

    mutating func finish() {
        if !streams {
            held.sort { ($0.start, $0.uid) < ($1.start, $1.uid) }
            if renderer.format == .table {
                Output.write(held.isEmpty ? "no flows\n" : renderer.table(held, includeHeader: true))
                printed += held.count
            } else {
                for row in held {
                    Output.write(renderer.streamRow(row, index: printed))
                    printed += 1
                }
            }
            held.removeAll()
        }
        Output.write(renderer.footer(rowCount: printed, closedAt: SystemClock.wallNanoseconds()))
        Output.flush()
    }
}

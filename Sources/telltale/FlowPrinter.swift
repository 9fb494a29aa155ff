import Flows
import Reporting

/// Prints flows as they end: streaming formats go out at once; the table and JSON are sorted by
/// start time and printed at the end.
struct FlowPrinter {
    let renderer: FlowRenderer
    let local: LocalNetwork
    private var held: [FlowRow] = []
    private(set) var printed = 0

    init(renderer: FlowRenderer, local: LocalNetwork) {
        self.renderer = renderer
        self.local = local
        Output.write(renderer.header())
    }

    private var streams: Bool { renderer.format == .ndjson || renderer.format == .csv }

    mutating func add(_ records: [FlowRecord]) {
        for record in records {
            let row = FlowRow(record, local: local)
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
            } else {
                for row in held {
                    Output.write(renderer.streamRow(row, index: printed))
                    printed += 1
                }
            }
            held.removeAll()
        }
        Output.write(renderer.footer(rowCount: printed))
        Output.flush()
    }
}

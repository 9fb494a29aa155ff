public import Capture
public import Flows
import Names
public import Reporting
public import PacketParsing

/// Reads capture files through the pipeline, one after another into one flow table (flows may span
/// rotated files), and hands ended flows to a sink as they end.
public struct Replay {
    /// A file that could not be read to its end: the flows before the damage are kept.
    public struct FileProblem: Sendable, Equatable {
        public var path: String
        public var error: CaptureError
        /// The file never opened (missing, not permitted): it has no flows to show.
        public var neverOpened: Bool { error.kind == .open || error.kind == .permissionDenied }
    }

    public var pipeline: FlowPipeline
    public private(set) var problems: [FileProblem] = []
    public private(set) var filesRead = 0

    /// - Parameter names: whether destinations are named from observed DNS, SNI and Host.
    public init(timeouts: FlowTimeouts = FlowTimeouts(active: 0), uidSeed: UInt64 = 0x7e11_7a1e, names: Bool = true) {
        pipeline = FlowPipeline(table: FlowTable(timeouts: timeouts, uidSeed: uidSeed), names: names ? NameTracker() : nil)
    }

    /// Reads every file, calling `sink` with each batch of ended flows; open flows end at the last file.
    public mutating func run(files: [String], sink: ([FlowRecord]) -> Void) {
        for path in files {
            do {
                let handle = try PcapHandle.openFile(path)
                try read(handle, sink: sink)
                filesRead += 1
            } catch {
                problems.append(FileProblem(path: path, error: error))
            }
        }
        pipeline.table.endAll(reason: .shutdown)
        drain(sink)
    }

    private mutating func read(_ handle: PcapHandle, sink: ([FlowRecord]) -> Void) throws(CaptureError) {
        let decoder = PacketDecoder(linkType: handle.linkType)
        while true {
            let result = try handle.dispatch(limit: 4096) { frame, wire, time in
                pipeline.process(frame, wireLength: wire, timestamp: time, decoder: decoder)
            }
            drain(sink)
            if result == .endOfFile || result == .interrupted { return }
        }
    }

    private mutating func drain(_ sink: ([FlowRecord]) -> Void) {
        guard !pipeline.table.ended.isEmpty else { return }
        pipeline.nameFlows()
        sink(pipeline.table.ended)
        pipeline.table.ended.removeAll(keepingCapacity: true)
    }
}

extension Replay {
    /// Reads every file as `run(files:sink:)` does, handing out rows: flows facing this machine
    /// (its interfaces' addresses and the `localNetworks` given, as text: `10.0.0.0/8`).
    public mutating func rows(files: [String], localNetworks: [String], sink: ([FlowRow]) -> Void) {
        let local = LocalNetwork.thisMachine(extra: localNetworks.compactMap { IPNetwork($0) })
        run(files: files) { records in sink(records.map { FlowRow($0, local: local) }) }
    }
}

extension LivePipeline.Options {
    /// The first of `texts` that is neither an address nor a network, or nil.
    public static func invalidNetwork(in texts: [String]) -> String? { texts.first { IPNetwork($0) == nil } }

    /// Adds networks that count as this machine's, given as text (those that do not parse are skipped:
    /// `invalidNetwork(in:)` finds them first).
    public mutating func addLocalNetworks(_ texts: [String]) { localNetworks += texts.compactMap { IPNetwork($0) } }
}

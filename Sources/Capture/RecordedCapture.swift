public import PacketParsing
public import Posix

/// A capture file read through the live pipeline as if its frames arrived now: the first frame's
/// time becomes the moment of the first read, and the rest keep their distance from it, so the
/// pipeline's wall-clock sweeps treat them as live traffic. The file is read as fast as the pipeline
/// takes it; at its end (or at damage, reported through `onInterfaceChange`) the source is exhausted.
public final class RecordedCapture: PacketSource {
    private var handle: PcapHandle?
    private let path: String
    private var offset: Int64?
    private var frames: UInt64 = 0
    public var onInterfaceChange: (String) -> Void = { _ in }

    /// Opens the pcap or pcapng file at `path`.
    public init(path: String) throws(CaptureError) {
        self.path = path
        handle = try PcapHandle.openFile(path)
    }

    public var linkTypes: [LinkType] { handle.map { [$0.linkType] } ?? [] }

    public var isExhausted: Bool { handle == nil }

    public func statistics() -> CaptureStatistics { CaptureStatistics(received: frames, dropped: 0, interfaceDropped: 0) }

    public func poll(
        stop: StopSignal, timeoutMilliseconds: Int32, batch: Int32 = 1024,
        _ body: (LinkType, UnsafeRawBufferPointer, Int, Int64) -> Void
    ) -> Int {
        guard let handle, !stop.isTriggered else { return 0 }
        let linkType = handle.linkType
        var read = 0
        do {
            let result = try handle.dispatch(limit: batch) { frame, wire, time in
                let shift = offset ?? Self.clamped(SystemClock.wallNanoseconds().subtractingReportingOverflow(time), toward: -time)
                offset = shift
                read += 1
                body(linkType, frame, wire, Self.clamped(time.addingReportingOverflow(shift), toward: shift))
            }
            if case .endOfFile = result { self.handle = nil }
        } catch {
            onInterfaceChange("\(path): \(error.message); the frames before the damage were read")
            self.handle = nil
        }
        frames += UInt64(read)
        return read
    }

    /// A file's times are outside data: a sum past Int64's range stops at its end.
    private static func clamped(_ result: (partialValue: Int64, overflow: Bool), toward sign: Int64) -> Int64 {
        guard result.overflow else { return result.partialValue }
        return sign >= 0 ? .max : .min
    }
}

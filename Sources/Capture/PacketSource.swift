public import PacketParsing
public import Posix

/// Where the live pipeline's frames come from: the interfaces (`LiveCapture`) or a capture file read
/// as if it were live (`RecordedCapture`: the daemon's whole loop in a test, without root or an
/// interface). The capture thread owns its source. `replay` reads files without the live pipeline.
public protocol PacketSource: AnyObject {
    /// Waits up to `timeoutMilliseconds` for frames or the stop signal, then reads what is ready and
    /// hands each frame to `body` with its link type, wire length and time. Returns the frames read.
    func poll(stop: StopSignal, timeoutMilliseconds: Int32, batch: Int32, _ body: (LinkType, UnsafeRawBufferPointer, Int, Int64) -> Void)
        -> Int
    /// The link type of each open handle.
    var linkTypes: [LinkType] { get }
    /// The source's counters since it opened.
    func statistics() -> CaptureStatistics
    /// Told when an interface goes away or comes back (a message for the log).
    var onInterfaceChange: (String) -> Void { get set }
    /// True once the source can give no more frames (a file read to its end); a live capture never is.
    var isExhausted: Bool { get }
}

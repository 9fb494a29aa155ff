public import Capture
import Flows

extension LivePipeline.Options {
    /// Bytes kept of each frame.
    public var snapLength: Int32 {
        get { capture.snapLength }
        set { capture.snapLength = newValue }
    }

    /// A BPF expression (tcpdump syntax) frames must match; nil captures everything.
    public var filter: String? {
        get { capture.filter }
        set { capture.filter = newValue }
    }

    /// How often an open flow is handed out while it lasts, nanoseconds (0: only at its end).
    public var activeTimeout: Int64 {
        get { timeouts.active }
        set { timeouts.active = newValue }
    }
}

extension CaptureStatistics {
    /// Frames the kernel or the interface dropped.
    public var lost: Int64 { kernelDropped.addingSaturating(droppedByInterface) }

    /// The kernel's counters, said for a person.
    public var text: String { "\(received) received, \(dropped) dropped, \(interfaceDropped) dropped by the interface" }

    /// The kernel's drops (`dropped`), as a signed count.
    public var kernelDropped: Int64 { Int64(clamping: dropped) }

    /// The interface's drops, as a signed count.
    public var droppedByInterface: Int64 { Int64(clamping: interfaceDropped) }
}

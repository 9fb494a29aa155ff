#if canImport(Glibc)
import Glibc
#endif
public import PacketParsing

/// Live capture on one or more interfaces from a single thread: polls every handle's descriptor and
/// the stop signal, and reads whatever is ready.
public final class LiveCapture {
    public private(set) var handles: [PcapHandle]
    public let interfaces: [String]
    private let options: PcapHandle.LiveOptions

    /// Opens every named interface; `any` captures all of them, loopback included, and those that
    /// appear later.
    public init(interfaces: [String], options: PcapHandle.LiveOptions) throws(CaptureError) {
        self.interfaces = interfaces
        self.options = options
        var opened: [PcapHandle] = []
        for name in interfaces {
            opened.append(try PcapHandle.openLive(name, options: options))
        }
        handles = opened
    }

    /// Waits up to `timeoutMilliseconds` for packets or the stop signal, then reads what is ready and
    /// hands each frame to `body` with its handle's link type. Returns the packets read.
    public func poll(
        stop: StopSignal, timeoutMilliseconds: Int32, batch: Int32 = 1024,
        _ body: (LinkType, UnsafeRawBufferPointer, Int, Int64) -> Void
    ) throws(CaptureError) -> Int {
        var descriptors = handles.map { pollfd(fd: $0.selectableDescriptor, events: Int16(POLLIN), revents: 0) }
        descriptors.append(pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0))
        let ready = Glibc.poll(&descriptors, nfds_t(descriptors.count), timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return 0 }
            throw CaptureError(.read, source: "poll", message: String(cString: strerror(errno)))
        }
        var total = 0
        for (index, handle) in handles.enumerated() {
            let events = descriptors[index].revents
            if events & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && events & Int16(POLLIN) == 0 {
                throw CaptureError(.read, source: handle.source, message: "the interface went away")
            }
            guard events & Int16(POLLIN) != 0 else { continue }
            let linkType = handle.linkType
            if case .packets(let count) = try handle.dispatch(limit: batch, { frame, wire, time in
                body(linkType, frame, wire, time)
            }) {
                total += count
            }
        }
        return total
    }

    /// The sum of every handle's counters.
    public func statistics() -> CaptureStatistics {
        handles.compactMap { $0.statistics() }.reduce(CaptureStatistics(), +)
    }
}

#if canImport(Glibc)
import Glibc
#endif
public import PacketParsing
public import Posix

/// Live capture on one or more interfaces from a single thread: polls every handle's descriptor and
/// the stop signal, and reads whatever is ready. An interface that goes away is reopened once a
/// second until it returns; the others keep capturing meanwhile.
public final class LiveCapture: PacketSource {
    /// One interface and its handle while it is up.
    private struct Slot {
        let name: String
        var handle: PcapHandle?
        var retryAt: Int64 = 0
        /// Counters of handles that were closed, so totals survive a reopen.
        var closedTotals = CaptureStatistics()
    }

    private var slots: [Slot]
    public let interfaces: [String]
    private let options: PcapHandle.LiveOptions
    /// Told when an interface goes away or comes back (message for the log).
    public var onInterfaceChange: (String) -> Void = { _ in }

    /// Opens every named interface; `any` captures all of them, loopback included, and those that
    /// appear later. Fails when any interface cannot be opened at the start.
    public init(interfaces: [String], options: PcapHandle.LiveOptions) throws(CaptureError) {
        self.interfaces = interfaces
        self.options = options
        var opened: [Slot] = []
        for name in interfaces {
            opened.append(Slot(name: name, handle: try PcapHandle.openLive(name, options: options)))
        }
        slots = opened
    }

    /// Interfaces do not run out.
    public var isExhausted: Bool { false }

    /// The link type of each interface's handle while it is open (`any` gives Linux cooked v2).
    public var linkTypes: [LinkType] { slots.compactMap { $0.handle?.linkType } }

    /// Waits up to `timeoutMilliseconds` for packets or the stop signal, then reads what is ready and
    /// hands each frame to `body` with its handle's link type. Returns the frames read.
    public func poll(
        stop: StopSignal, timeoutMilliseconds: Int32, batch: Int32 = 1024,
        _ body: (LinkType, UnsafeRawBufferPointer, Int, Int64) -> Void
    ) -> Int {
        reopenDueInterfaces()
        var indices: [Int] = []
        var descriptors: [pollfd] = []
        for (index, slot) in slots.enumerated() {
            guard let handle = slot.handle else { continue }
            indices.append(index)
            descriptors.append(pollfd(fd: handle.selectableDescriptor, events: Int16(POLLIN), revents: 0))
        }
        descriptors.append(pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0))
        let ready = Glibc.poll(&descriptors, nfds_t(descriptors.count), timeoutMilliseconds)
        guard ready > 0 else { return 0 }
        var total = 0
        for (position, index) in indices.enumerated() {
            let events = descriptors[position].revents
            guard events != 0, let handle = slots[index].handle else { continue }
            let linkType = handle.linkType
            do {
                if case .packets(let count) = try handle.dispatch(limit: batch, { frame, wire, time in
                    body(linkType, frame, wire, time)
                }) {
                    total += count
                }
                if events & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && events & Int16(POLLIN) == 0 {
                    close(index, reason: "the interface reported an error")
                }
            } catch {
                close(index, reason: error.message)
            }
        }
        return total
    }

    private func close(_ index: Int, reason: String) {
        if let stats = slots[index].handle?.statistics() { slots[index].closedTotals = slots[index].closedTotals + stats }
        slots[index].handle = nil
        slots[index].retryAt = SystemClock.monotonicNanoseconds() + 1_000_000_000
        onInterfaceChange("capture on \(slots[index].name) stopped (\(reason)); retrying every second")
    }

    private func reopenDueInterfaces() {
        let now = SystemClock.monotonicNanoseconds()
        for index in slots.indices where slots[index].handle == nil && now >= slots[index].retryAt {
            do {
                slots[index].handle = try PcapHandle.openLive(slots[index].name, options: options)
                onInterfaceChange("capture on \(slots[index].name) resumed")
            } catch {
                slots[index].retryAt = now + 1_000_000_000
            }
        }
    }

    /// The sum of every handle's counters, including handles closed since the start.
    public func statistics() -> CaptureStatistics {
        slots.reduce(CaptureStatistics()) { total, slot in
            total + slot.closedTotals + (slot.handle?.statistics() ?? CaptureStatistics())
        }
    }
}

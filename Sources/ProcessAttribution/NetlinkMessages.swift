import PacketParsing

/// Encodes netlink requests and decodes answers as plain bytes, so that no C struct layout leaks
/// into Swift and every length is checked. Pure; the system calls live in `NetlinkSocket`.
///
/// Layouts (host byte order, which is little-endian on the machines Telltale supports, unless noted; Linux uapi headers):
/// - `nlmsghdr`: len u32, type u16, flags u16, seq u32, pid u32 (16 bytes).
/// - `inet_diag_req_v2`: family u8, protocol u8, ext u8, pad u8, states u32, `inet_diag_sockid` (56 bytes).
/// - `inet_diag_sockid`: sport be16, dport be16, src 16 bytes, dst 16 bytes, if u32, cookie 2×u32 (48 bytes).
/// - `inet_diag_msg`: family u8, state u8, timer u8, retrans u8, sockid, expires, rqueue, wqueue, uid, inode u32 (72 bytes).
/// - `cn_msg`: idx u32, val u32, seq u32, ack u32, len u16, flags u16 (20 bytes), then `proc_event`:
///   what u32, cpu u32, timestamp u64, then the event's pids.
public enum NetlinkMessages {
    static let headerLength = 16
    static let typeDone: UInt16 = 3
    static let typeError: UInt16 = 2
    static let sockDiagByFamily: UInt16 = 20
    static let flagRequest: UInt16 = 1
    static let flagDump: UInt16 = 0x300
    static let familyIPv4: UInt8 = 2
    static let familyIPv6: UInt8 = 10

    /// One message: type, flags, and its payload.
    public struct Message: Sendable, Equatable {
        public var type: UInt16
        public var flags: UInt16
        public var sequence: UInt32
        public var payload: [UInt8]
    }

    /// A process event from the proc connector.
    public enum ProcessEvent: Sendable, Equatable {
        case fork(parent: Int32, child: Int32)
        case exec(pid: Int32)
        /// `monotonicTime`: when the process exited, in CLOCK_MONOTONIC nanoseconds (the event's
        /// timestamp, taken by the kernel as the process exits).
        case exit(pid: Int32, monotonicTime: Int64)
        /// A thread was created or ended, or an event we do not use.
        case other
    }

    // MARK: - Framing

    /// Wraps a payload in a netlink header.
    static func message(type: UInt16, flags: UInt16, sequence: UInt32, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerLength + payload.count)
        append32(&out, UInt32(headerLength + payload.count))
        append16(&out, type)
        append16(&out, flags)
        append32(&out, sequence)
        append32(&out, 0)
        out.append(contentsOf: payload)
        return out
    }

    /// Splits a datagram into messages; a truncated or inconsistent message ends the split.
    public static func split(_ bytes: [UInt8]) -> [Message] {
        var messages: [Message] = []
        var offset = 0
        while bytes.count - offset >= headerLength {
            let length = Int(read32(bytes, offset))
            guard length >= headerLength, length <= bytes.count - offset else { break }
            messages.append(Message(
                type: read16(bytes, offset + 4), flags: read16(bytes, offset + 6),
                sequence: read32(bytes, offset + 8),
                payload: Array(bytes[(offset + headerLength)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        return messages
    }

    /// The errno of an NLMSG_ERROR payload (positive; zero is an acknowledgement).
    static func errorCode(_ payload: [UInt8]) -> Int32 {
        guard payload.count >= 4 else { return 0 }
        return -Int32(bitPattern: read32(payload, 0))
    }

    // MARK: - sock_diag

    /// An `inet_diag_req_v2`. `local` and `remote` fill the socket id for an exact lookup; a dump leaves them nil.
    static func inetDiagRequest(
        family: UInt8, ipProtocol: UInt8, states: UInt32,
        local: (IPAddress, UInt16)? = nil, remote: (IPAddress, UInt16)? = nil, rawProtocol: UInt8 = 0
    ) -> [UInt8] {
        var out: [UInt8] = [family, ipProtocol, 0, rawProtocol]
        append32(&out, states)
        out.append(UInt8(truncatingIfNeeded: (local?.1 ?? 0) >> 8))
        out.append(UInt8(truncatingIfNeeded: local?.1 ?? 0))
        out.append(UInt8(truncatingIfNeeded: (remote?.1 ?? 0) >> 8))
        out.append(UInt8(truncatingIfNeeded: remote?.1 ?? 0))
        out.append(contentsOf: addressField(local?.0, family: family))
        out.append(contentsOf: addressField(remote?.0, family: family))
        append32(&out, 0)  // interface: any
        // INET_DIAG_NOCOOKIE: do not check the socket cookie.
        append32(&out, 0xffff_ffff)
        append32(&out, 0xffff_ffff)
        return out
    }

    /// 16 bytes: an IPv4 address in the first 4, an IPv6 address in all of them (network order).
    static func addressField(_ address: IPAddress?, family: UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        guard let address else { return out }
        let value = family == familyIPv6 ? address.mappedV6 : (address.unmappedV4 ?? address)
        for (i, byte) in value.bytes.prefix(16).enumerated() { out[i] = byte }
        return out
    }

    /// Decodes an `inet_diag_msg` payload into an entry of protocol `ipProtocol`.
    public static func inetDiagEntry(_ payload: [UInt8], ipProtocol: UInt8) -> SocketEntry? {
        guard payload.count >= 72 else { return nil }
        let family = payload[0]
        guard family == familyIPv4 || family == familyIPv6 else { return nil }
        let sport = UInt16(payload[4]) << 8 | UInt16(payload[5])
        let dport = UInt16(payload[6]) << 8 | UInt16(payload[7])
        let length = family == familyIPv4 ? 4 : 16
        guard let src = IPAddress(bytes: payload[8..<(8 + length)]),
              let dst = IPAddress(bytes: payload[24..<(24 + length)])
        else { return nil }
        var entry = SocketEntry(
            ipProtocol: ipProtocol, localAddress: src, localPort: sport, remoteAddress: dst, remotePort: dport,
            state: payload[1], uid: read32(payload, 64), inode: UInt64(read32(payload, 68)))
        entry.cookie = UInt64(read32(payload, 44)) | UInt64(read32(payload, 48)) << 32
        return entry
    }

    // MARK: - proc connector

    static let connectorProcIndex: UInt32 = 1
    static let connectorProcValue: UInt32 = 1
    static let procListen: UInt32 = 1
    static let procIgnore: UInt32 = 2

    /// The subscription message (`PROC_CN_MCAST_LISTEN` or `PROC_CN_MCAST_IGNORE`).
    static func connectorSubscription(listen: Bool) -> [UInt8] {
        var payload: [UInt8] = []
        append32(&payload, connectorProcIndex)
        append32(&payload, connectorProcValue)
        append32(&payload, 0)
        append32(&payload, 0)
        append16(&payload, 4)
        append16(&payload, 0)
        append32(&payload, listen ? procListen : procIgnore)
        return message(type: typeDone, flags: 0, sequence: 0, payload: payload)
    }

    /// Decodes the `cn_msg` + `proc_event` payload of one message.
    public static func processEvent(_ payload: [UInt8]) -> ProcessEvent? {
        guard payload.count >= 20 + 16 else { return nil }
        guard read32(payload, 0) == connectorProcIndex, read32(payload, 4) == connectorProcValue else { return nil }
        let event = 20
        let what = read32(payload, event)
        let data = event + 16
        func pid(_ index: Int) -> Int32? {
            guard payload.count >= data + (index + 1) * 4 else { return nil }
            return Int32(bitPattern: read32(payload, data + index * 4))
        }
        switch what {
        case 0x1:  // PROC_EVENT_FORK: parent pid, parent tgid, child pid, child tgid
            guard let parentTgid = pid(1), let child = pid(2), let childTgid = pid(3) else { return nil }
            return child == childTgid ? .fork(parent: parentTgid, child: childTgid) : .other
        case 0x2:  // PROC_EVENT_EXEC: pid, tgid
            guard let tgid = pid(1) else { return nil }
            return .exec(pid: tgid)
        case 0x8000_0000:  // PROC_EVENT_EXIT: pid, tgid, …
            guard let thread = pid(0), let tgid = pid(1) else { return nil }
            let time = Int64(read32(payload, event + 8)) | Int64(read32(payload, event + 12)) << 32
            return thread == tgid ? .exit(pid: tgid, monotonicTime: time) : .other
        default:
            return .other
        }
    }

    // MARK: - Bytes

    static func append16(_ out: inout [UInt8], _ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func append32(_ out: inout [UInt8], _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// A host-order u16 at `offset`; the caller checked the bounds.
    static func read16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    /// A host-order (little-endian) u32 at `offset`; the caller checked the bounds.
    static func read32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}

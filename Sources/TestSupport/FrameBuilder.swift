public import PacketParsing

/// Builds raw frames byte by byte for tests and benchmarks: link layer, IPv4/IPv6 and a transport.
///
/// Every layer is a plain function returning bytes, so a test can also lie in any field (a total
/// length that is too long, a header length of 3, a truncated tail) by building a layer itself or
/// by editing the returned array. Checksums are filled in (IPv4 header, TCP, UDP, ICMP, ICMPv6), so
/// frames written to a file also read cleanly in Wireshark.
///
/// A typical frame:
/// ```swift
/// let frame = FrameBuilder.frame(
///     link: .ethernet(vlans: [10]),
///     ip: .v4(from: "10.0.0.1", to: "198.18.0.1"),
///     transport: .tcp(sourcePort: 40000, destinationPort: 443, flags: .syn))
/// ```
public enum FrameBuilder {
    // MARK: Whole frames

    /// Link layer + IP header + transport in one call.
    public static func frame(link: Link = .ethernet(), ip: IPHeader, transport: Transport) -> [UInt8] {
        link.wrap(ip.packet(transport))
    }

    /// An IP packet (no link layer) carrying `transport`.
    public static func packet(ip: IPHeader, transport: Transport) -> [UInt8] {
        ip.packet(transport)
    }

    // MARK: Link layer

    /// The link layer in front of an IP packet.
    public enum Link: Sendable, Hashable {
        /// Ethernet II with zero or more VLAN tags, outermost first. `outerTagType` is the TPID of the
        /// outermost tag when there are two or more (0x88a8 for 802.1ad QinQ); inner tags use 0x8100.
        case ethernet(vlans: [UInt16] = [], outerTagType: UInt16 = 0x88a8)
        /// Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`). Packet type: 0 to us, 4 outgoing.
        case linuxCooked(packetType: UInt16 = 0)
        /// Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`).
        case linuxCookedV2(packetType: UInt8 = 0, interfaceIndex: UInt32 = 1)
        /// BSD loopback (`LINKTYPE_NULL`): the address family in the host's (little-endian) byte order.
        /// `inet6Family` is the AF_INET6 value to write (10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin).
        case null(inet6Family: UInt32 = 30)
        /// OpenBSD loopback (`LINKTYPE_LOOP`): the address family in network byte order.
        case loop(inet6Family: UInt32 = 24)
        /// No link layer: the frame starts with the IP header (`LINKTYPE_RAW`).
        case raw

        /// The link type to declare in a capture file or to decode with.
        public var linkType: LinkType {
            switch self {
            case .ethernet: .ethernet
            case .linuxCooked: .linuxCooked
            case .linuxCookedV2: .linuxCookedV2
            case .null: .null
            case .loop: .loop
            case .raw: .raw
            }
        }

        /// Every link type with default settings: for tests that run over all of them.
        public static let all: [Link] = [
            .ethernet(), .ethernet(vlans: [100]), .ethernet(vlans: [100, 200]), .linuxCooked(), .linuxCookedV2(),
            .null(), .loop(), .raw,
        ]

        /// Puts this link layer in front of an IP packet; the EtherType or family follows the IP version.
        public func wrap(_ ipPacket: [UInt8]) -> [UInt8] {
            let isV6 = (ipPacket.first ?? 0) >> 4 == 6
            return wrap(ipPacket, etherType: isV6 ? 0x86dd : 0x0800)
        }

        /// Puts this link layer in front of any payload with an explicit EtherType (0x0806 for ARP…).
        /// For NULL and LOOP, EtherTypes other than IPv4/IPv6 become address family 0x0000.
        public func wrap(_ payload: [UInt8], etherType: UInt16) -> [UInt8] {
            switch self {
            case .ethernet(let vlans, let outerTagType):
                return FrameBuilder.ethernet(payload, etherType: etherType, vlans: vlans, outerTagType: outerTagType)
            case .linuxCooked(let packetType):
                return FrameBuilder.linuxCooked(payload, protocolType: etherType, packetType: packetType)
            case .linuxCookedV2(let packetType, let interfaceIndex):
                return FrameBuilder.linuxCookedV2(
                    payload, protocolType: etherType, packetType: packetType, interfaceIndex: interfaceIndex)
            case .null(let inet6):
                let family: UInt32 = etherType == 0x0800 ? 2 : (etherType == 0x86dd ? inet6 : 0)
                return FrameBuilder.null(payload, family: family)
            case .loop(let inet6):
                let family: UInt32 = etherType == 0x0800 ? 2 : (etherType == 0x86dd ? inet6 : 0)
                return FrameBuilder.loop(payload, family: family)
            case .raw:
                return payload
            }
        }
    }

    /// An Ethernet II frame: destination, source, optional VLAN tags (outermost first), EtherType, payload.
    public static func ethernet(
        _ payload: [UInt8], etherType: UInt16, vlans: [UInt16] = [], outerTagType: UInt16 = 0x88a8,
        destination: [UInt8] = [0x02, 0, 0, 0, 0, 0x02], source: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    ) -> [UInt8] {
        var out = Array(destination.prefix(6)) + Array(repeating: 0, count: max(0, 6 - destination.count))
        out += Array(source.prefix(6)) + Array(repeating: 0, count: max(0, 6 - source.count))
        for (index, vlan) in vlans.enumerated() {
            let tpid: UInt16 = vlans.count > 1 && index == 0 ? outerTagType : 0x8100
            out += be16(tpid)
            out += be16(vlan & 0x0fff)
        }
        out += be16(etherType)
        return out + payload
    }

    /// A Linux cooked v1 header (16 bytes): packet type, ARPHRD_ETHER, address length 6, address, protocol.
    public static func linuxCooked(_ payload: [UInt8], protocolType: UInt16, packetType: UInt16 = 0) -> [UInt8] {
        var out = be16(packetType) + be16(1) + be16(6)
        out += [0x02, 0, 0, 0, 0, 0x01, 0, 0]
        out += be16(protocolType)
        return out + payload
    }

    /// A Linux cooked v2 header (20 bytes): protocol, reserved, interface index, ARPHRD_ETHER, packet
    /// type, address length 6, address.
    public static func linuxCookedV2(
        _ payload: [UInt8], protocolType: UInt16, packetType: UInt8 = 0, interfaceIndex: UInt32 = 1
    ) -> [UInt8] {
        var out = be16(protocolType) + be16(0) + be32(interfaceIndex) + be16(1)
        out += [packetType, 6]
        out += [0x02, 0, 0, 0, 0, 0x01, 0, 0]
        return out + payload
    }

    /// A `LINKTYPE_NULL` header: the family as a 32-bit little-endian number (the writer's byte order).
    public static func null(_ payload: [UInt8], family: UInt32) -> [UInt8] {
        le32(family) + payload
    }

    /// A `LINKTYPE_LOOP` header: the family as a 32-bit big-endian number.
    public static func loop(_ payload: [UInt8], family: UInt32) -> [UInt8] {
        be32(family) + payload
    }

    // MARK: IP layer

    /// An IPv4 or IPv6 header description; `packet(_:)` turns it into bytes around a transport.
    public enum IPHeader: Sendable, Hashable {
        case v4(IPv4)
        case v6(IPv6)

        /// A plain IPv4 header between two addresses.
        public static func v4(from source: IPAddress, to destination: IPAddress) -> IPHeader {
            .v4(IPv4(source: source, destination: destination))
        }

        /// A plain IPv6 header between two addresses.
        public static func v6(from source: IPAddress, to destination: IPAddress) -> IPHeader {
            .v6(IPv6(source: source, destination: destination))
        }

        public var source: IPAddress {
            switch self {
            case .v4(let h): h.source
            case .v6(let h): h.source
            }
        }

        public var destination: IPAddress {
            switch self {
            case .v4(let h): h.destination
            case .v6(let h): h.destination
            }
        }

        /// The same header with source and destination swapped (for replies).
        public var reversed: IPHeader {
            switch self {
            case .v4(var h): swap(&h.source, &h.destination); return .v4(h)
            case .v6(var h): swap(&h.source, &h.destination); return .v6(h)
            }
        }

        /// The IP packet carrying `transport` (transport checksums use this header's addresses).
        public func packet(_ transport: Transport) -> [UInt8] {
            switch self {
            case .v4(let h):
                let body = transport.bytes(source: h.source, destination: h.destination, v6: false)
                return h.packet(protocol: transport.protocolNumber(v6: false), payload: body)
            case .v6(let h):
                let body = transport.bytes(source: h.source, destination: h.destination, v6: true)
                return h.packet(nextHeader: transport.protocolNumber(v6: true), payload: body)
            }
        }
    }

    /// An IPv4 header with every field a test may want to set.
    public struct IPv4: Sendable, Hashable {
        public var source: IPAddress
        public var destination: IPAddress
        public var ttl: UInt8 = 64
        public var identification: UInt16 = 0x1234
        public var dontFragment = false
        public var moreFragments = false
        /// Fragment offset in 8-octet units.
        public var fragmentOffset: UInt16 = 0
        /// Option bytes; padded with zeros (end of options) to a multiple of 4.
        public var options: [UInt8] = []
        /// Overrides the total length field (to make it lie); nil writes the true length.
        public var totalLength: UInt16?
        /// Overrides the header length field in 4-octet units; nil writes the true length.
        public var headerLengthWords: UInt8?
        /// Overrides the version nibble.
        public var version: UInt8 = 4
        /// Overrides the protocol field; nil takes the transport's.
        public var protocolOverride: UInt8?

        public init(source: IPAddress, destination: IPAddress) {
            self.source = source
            self.destination = destination
        }

        /// The header followed by `payload` (already a transport segment or any bytes).
        public func packet(protocol number: UInt8, payload: [UInt8]) -> [UInt8] {
            var opts = options
            while opts.count % 4 != 0 { opts.append(0) }
            let headerLength = 20 + opts.count
            let total = totalLength ?? UInt16(truncatingIfNeeded: headerLength + payload.count)
            var fragmentField = fragmentOffset & 0x1fff
            if dontFragment { fragmentField |= 0x4000 }
            if moreFragments { fragmentField |= 0x2000 }
            let ihl = headerLengthWords ?? UInt8(truncatingIfNeeded: headerLength / 4)
            var header: [UInt8] = [version << 4 | (ihl & 0x0f), 0]
            header += be16(total) + be16(identification) + be16(fragmentField)
            header += [ttl, protocolOverride ?? number, 0, 0]
            header += addressBytes(source, v6: false) + addressBytes(destination, v6: false)
            header += opts
            let sum = checksum(header)
            header[10] = UInt8(sum >> 8)
            header[11] = UInt8(sum & 0xff)
            return header + payload
        }
    }

    /// An IPv6 header with an extension header chain.
    public struct IPv6: Sendable, Hashable {
        public var source: IPAddress
        public var destination: IPAddress
        public var hopLimit: UInt8 = 64
        public var flowLabel: UInt32 = 0
        /// Extension headers in order; each one's next-header field points at the following one.
        public var extensionHeaders: [IPv6ExtensionHeader] = []
        /// Overrides the payload length field (to make it lie); nil writes the true length.
        public var payloadLength: UInt16?
        public var version: UInt8 = 6

        public init(source: IPAddress, destination: IPAddress, extensionHeaders: [IPv6ExtensionHeader] = []) {
            self.source = source
            self.destination = destination
            self.extensionHeaders = extensionHeaders
        }

        /// The header and extension chain followed by `payload`, whose protocol is `nextHeader`.
        public func packet(nextHeader: UInt8, payload: [UInt8]) -> [UInt8] {
            var chain: [UInt8] = []
            for (index, header) in extensionHeaders.enumerated() {
                let next = index + 1 < extensionHeaders.count ? extensionHeaders[index + 1].headerType : nextHeader
                chain += header.bytes(nextHeader: next)
            }
            let first = extensionHeaders.first?.headerType ?? nextHeader
            let length = payloadLength ?? UInt16(truncatingIfNeeded: chain.count + payload.count)
            var header: [UInt8] = be32(UInt32(version) << 28 | (flowLabel & 0xfffff))
            header += be16(length) + [first, hopLimit]
            header += addressBytes(source, v6: true) + addressBytes(destination, v6: true)
            return header + chain + payload
        }
    }

    /// One IPv6 extension header.
    public enum IPv6ExtensionHeader: Sendable, Hashable {
        /// Hop-by-hop options (type 0), padded with PadN to `length` octets (a multiple of 8, at least 8).
        case hopByHop(length: Int = 8)
        /// Routing header (type 43) with `addresses` (type 0 style layout).
        case routing(routingType: UInt8 = 0, segmentsLeft: UInt8 = 0, addresses: [IPAddress] = [])
        /// Destination options (type 60), padded like hop-by-hop.
        case destinationOptions(length: Int = 8)
        /// Fragment header (type 44); `offset` in 8-octet units.
        case fragment(offset: UInt16 = 0, moreFragments: Bool = false, identification: UInt32 = 0x0bad_cafe)
        /// Authentication header (type 51) with `icvLength` bytes of integrity check value.
        case authentication(icvLength: Int = 12)
        /// Any header by type and raw body (everything after the next-header byte).
        case other(type: UInt8, body: [UInt8])

        public var headerType: UInt8 {
            switch self {
            case .hopByHop: 0
            case .routing: 43
            case .destinationOptions: 60
            case .fragment: 44
            case .authentication: 51
            case .other(let type, _): type
            }
        }

        public func bytes(nextHeader: UInt8) -> [UInt8] {
            switch self {
            case .hopByHop(let length), .destinationOptions(let length):
                let total = max(8, (length + 7) / 8 * 8)
                // Next header, length in 8-octet units beyond the first, then one PadN option filling the rest.
                return [nextHeader, UInt8(truncatingIfNeeded: total / 8 - 1), 1, UInt8(truncatingIfNeeded: total - 4)]
                    + Array(repeating: 0, count: total - 4)
            case .routing(let routingType, let segmentsLeft, let addresses):
                var out: [UInt8] = [nextHeader, UInt8(truncatingIfNeeded: addresses.count * 2), routingType, segmentsLeft, 0, 0, 0, 0]
                for address in addresses { out += addressBytes(address, v6: true) }
                return out
            case .fragment(let offset, let more, let identification):
                return [nextHeader, 0] + be16((offset << 3) | (more ? 1 : 0)) + be32(identification)
            case .authentication(let icvLength):
                let total = max(12, (12 + icvLength + 3) / 4 * 4)
                return [nextHeader, UInt8(truncatingIfNeeded: total / 4 - 2), 0, 0] + be32(0x100) + be32(1)
                    + Array(repeating: 0xaa, count: total - 12)
            case .other(_, let body):
                return [nextHeader] + body
            }
        }
    }

    // MARK: Transport

    /// TCP flag bits.
    public struct TCPFlags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = TCPFlags(rawValue: 0x01)
        public static let syn = TCPFlags(rawValue: 0x02)
        public static let rst = TCPFlags(rawValue: 0x04)
        public static let psh = TCPFlags(rawValue: 0x08)
        public static let ack = TCPFlags(rawValue: 0x10)
        public static let urg = TCPFlags(rawValue: 0x20)
        public static let ece = TCPFlags(rawValue: 0x40)
        public static let cwr = TCPFlags(rawValue: 0x80)
        public static let synAck: TCPFlags = [.syn, .ack]
        public static let finAck: TCPFlags = [.fin, .ack]
        public static let rstAck: TCPFlags = [.rst, .ack]
        public static let pshAck: TCPFlags = [.psh, .ack]
    }

    /// What the IP packet carries.
    public enum Transport: Sendable, Hashable {
        /// A TCP segment. `options` are padded to a multiple of 4; `dataOffsetWords` overrides the header length field.
        case tcp(
            sourcePort: UInt16, destinationPort: UInt16, flags: TCPFlags, payload: [UInt8] = [],
            sequence: UInt32 = 1000, acknowledgment: UInt32 = 0, options: [UInt8] = [], dataOffsetWords: UInt8? = nil)
        /// A UDP datagram. `length` overrides the length field.
        case udp(sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8] = [], length: UInt16? = nil)
        /// An echo request or reply: ICMP (types 8/0) over IPv4, ICMPv6 (128/129) over IPv6.
        case echo(reply: Bool = false, identifier: UInt16, sequence: UInt16 = 1, payload: [UInt8] = [])
        /// Any ICMP or ICMPv6 message (by the IP version): type, code, and the bytes after the checksum.
        case icmp(type: UInt8, code: UInt8 = 0, rest: [UInt8] = [0, 0, 0, 0])
        /// An SCTP packet: common header then `chunks` (raw chunk bytes).
        case sctp(sourcePort: UInt16, destinationPort: UInt16, verificationTag: UInt32 = 1, chunks: [UInt8] = [])
        /// Any protocol number with raw payload bytes.
        case other(protocolNumber: UInt8, payload: [UInt8] = [])

        /// The IP protocol number of this transport.
        public func protocolNumber(v6: Bool) -> UInt8 {
            switch self {
            case .tcp: IPProtocolNumber.tcp
            case .udp: IPProtocolNumber.udp
            case .echo, .icmp: v6 ? IPProtocolNumber.icmpv6 : IPProtocolNumber.icmp
            case .sctp: IPProtocolNumber.sctp
            case .other(let number, _): number
            }
        }

        /// The segment's bytes, with the checksum computed for the given IP addresses.
        public func bytes(source: IPAddress, destination: IPAddress, v6: Bool) -> [UInt8] {
            let number = protocolNumber(v6: v6)
            switch self {
            case .tcp(let sp, let dp, let flags, let payload, let sequence, let acknowledgment, let options, let dataOffset):
                var opts = options
                while opts.count % 4 != 0 { opts.append(1) }  // NOP padding
                let words = dataOffset ?? UInt8(truncatingIfNeeded: (20 + opts.count) / 4)
                var out = be16(sp) + be16(dp) + be32(sequence) + be32(acknowledgment)
                out += [words << 4, flags.rawValue] + be16(65535) + [0, 0] + be16(0)
                out += opts + payload
                let sum = transportChecksum(out, number, source, destination)
                out[16] = UInt8(sum >> 8); out[17] = UInt8(sum & 0xff)
                return out
            case .udp(let sp, let dp, let payload, let length):
                var out = be16(sp) + be16(dp) + be16(length ?? UInt16(truncatingIfNeeded: 8 + payload.count)) + [0, 0]
                out += payload
                var sum = transportChecksum(out, number, source, destination)
                if sum == 0 { sum = 0xffff }
                out[6] = UInt8(sum >> 8); out[7] = UInt8(sum & 0xff)
                return out
            case .echo(let reply, let identifier, let sequence, let payload):
                let type: UInt8 = v6 ? (reply ? 129 : 128) : (reply ? 0 : 8)
                return icmpMessage(type: type, code: 0, rest: be16(identifier) + be16(sequence) + payload,
                                   v6: v6, source: source, destination: destination)
            case .icmp(let type, let code, let rest):
                return icmpMessage(type: type, code: code, rest: rest, v6: v6, source: source, destination: destination)
            case .sctp(let sp, let dp, let tag, let chunks):
                // SCTP's CRC32c checksum is left zero: nothing here verifies it.
                return be16(sp) + be16(dp) + be32(tag) + be32(0) + chunks
            case .other(_, let payload):
                return payload
            }
        }

        private func icmpMessage(
            type: UInt8, code: UInt8, rest: [UInt8], v6: Bool, source: IPAddress, destination: IPAddress
        ) -> [UInt8] {
            var out: [UInt8] = [type, code, 0, 0] + rest
            let sum = v6 ? transportChecksum(out, IPProtocolNumber.icmpv6, source, destination) : checksum(out)
            out[2] = UInt8(sum >> 8); out[3] = UInt8(sum & 0xff)
            return out
        }
    }

    /// An SCTP DATA chunk carrying `payload` (for `.sctp(chunks:)`).
    public static func sctpDataChunk(_ payload: [UInt8], streamSequence: UInt16 = 0) -> [UInt8] {
        var chunk: [UInt8] = [0, 0x03] + be16(UInt16(truncatingIfNeeded: 16 + payload.count))
        chunk += be32(1) + be16(0) + be16(streamSequence) + be32(0) + payload
        while chunk.count % 4 != 0 { chunk.append(0) }
        return chunk
    }

    // MARK: Fragments

    /// Splits an IPv4 datagram carrying `transport` into fragments of at most `fragmentPayload` bytes
    /// of IP payload each (rounded down to a multiple of 8). Returns IP packets, first fragment first.
    public static func ipv4Fragments(_ header: IPv4, transport: Transport, fragmentPayload: Int) -> [[UInt8]] {
        let body = transport.bytes(source: header.source, destination: header.destination, v6: false)
        let number = transport.protocolNumber(v6: false)
        return fragments(of: body, fragmentPayload: fragmentPayload) { offset, more, piece in
            var h = header
            h.fragmentOffset = offset
            h.moreFragments = more
            return h.packet(protocol: number, payload: piece)
        }
    }

    /// Splits an IPv6 datagram carrying `transport` into fragments with a fragment header each
    /// (after `header`'s own extension headers, which must be the per-fragment part).
    public static func ipv6Fragments(
        _ header: IPv6, transport: Transport, fragmentPayload: Int, identification: UInt32 = 0x0bad_cafe
    ) -> [[UInt8]] {
        let body = transport.bytes(source: header.source, destination: header.destination, v6: true)
        let number = transport.protocolNumber(v6: true)
        return fragments(of: body, fragmentPayload: fragmentPayload) { offset, more, piece in
            var h = header
            h.extensionHeaders.append(.fragment(offset: offset, moreFragments: more, identification: identification))
            return h.packet(nextHeader: number, payload: piece)
        }
    }

    /// `body` cut into pieces of at most `fragmentPayload` bytes (rounded down to a multiple of 8, at
    /// least 8), each made a packet by `packet` from its offset in 8-byte units, whether more follow,
    /// and its bytes. At least one piece, also for an empty body.
    private static func fragments(
        of body: [UInt8], fragmentPayload: Int, _ packet: (_ offset: UInt16, _ moreFragments: Bool, _ piece: [UInt8]) -> [UInt8]
    ) -> [[UInt8]] {
        let step = max(8, fragmentPayload / 8 * 8)
        var out: [[UInt8]] = []
        var offset = 0
        repeat {
            let end = min(body.count, offset + step)
            out.append(packet(UInt16(truncatingIfNeeded: offset / 8), end < body.count, Array(body[offset..<end])))
            offset = end
        } while offset < body.count
        return out
    }

    // MARK: Byte helpers

    /// Big-endian 16 bits.
    public static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    /// Big-endian 32 bits.
    public static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }
    /// Little-endian 32 bits.
    public static func le32(_ v: UInt32) -> [UInt8] { be32(v).reversed() }

    /// The Internet checksum (RFC 1071) of `bytes`.
    public static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }

    static func addressBytes(_ address: IPAddress, v6: Bool) -> [UInt8] {
        if v6 { return address.mappedV6.bytes }
        return address.unmappedV4?.bytes ?? (address.family == .v4 ? address.bytes : Array(address.bytes.suffix(4)))
    }

    static func transportChecksum(_ segment: [UInt8], _ number: UInt8, _ source: IPAddress, _ destination: IPAddress) -> UInt16 {
        let v6 = source.family == .v6 || destination.family == .v6
        var pseudo = addressBytes(source, v6: v6) + addressBytes(destination, v6: v6)
        if v6 {
            pseudo += be32(UInt32(segment.count)) + [0, 0, 0, number]
        } else {
            pseudo += [0, number] + be16(UInt16(truncatingIfNeeded: segment.count))
        }
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < pseudo.count {
            sum += UInt32(pseudo[i]) << 8 | UInt32(pseudo[i + 1])
            i += 2
        }
        return checksum(segment, initial: sum)
    }
}

extension IPAddress: ExpressibleByStringLiteral {
    /// An address literal in tests (`"10.0.0.1"`, `"fd00::1"`). A literal that is not an address is a
    /// mistake in the test itself and stops it at once.
    public init(stringLiteral value: StaticString) {
        guard let parsed = IPAddress("\(value)") else {
            preconditionFailure("not an IP address literal: \(value)")
        }
        self = parsed
    }
}

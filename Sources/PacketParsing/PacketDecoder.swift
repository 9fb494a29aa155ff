/// Decodes a captured frame in place: link layer, IPv4/IPv6 with options, extension headers and
/// fragments, then TCP, UDP, ICMP, ICMPv6 or SCTP.
///
/// Every read is bounds-checked against the captured bytes; outside data can only make it throw.
public struct PacketDecoder: Sendable {
    public let linkType: LinkType

    public init(linkType: LinkType) {
        self.linkType = linkType
    }

    /// Decodes one frame. `wireLength` is the frame's length on the wire, which may exceed the
    /// captured bytes when the snap length cut it.
    
    public func decode(_ frame: UnsafeRawBufferPointer, wireLength: Int) throws(DecodeError) -> PacketSummary {
        var summary = PacketSummary()
        let reader = ByteReader(frame)
        let (networkOffset, etherType) = try decodeLink(reader, into: &summary)
        let linkBytes = networkOffset
        let available = max(wireLength, frame.count) - linkBytes
        switch etherType {
        case 0x0800:
            try decodeIPv4(reader, at: networkOffset, wireAvailable: available, into: &summary)
        case 0x86dd:
            try decodeIPv6(reader, at: networkOffset, wireAvailable: available, into: &summary)
        default:
            throw .notIP
        }
        return summary
    }

    // MARK: Link layer

    /// Returns the offset of the network header and its EtherType (0x0800 or 0x86dd for IP).
    
    func decodeLink(_ r: ByteReader, into s: inout PacketSummary) throws(DecodeError) -> (Int, UInt16) {
        switch linkType {
        case .ethernet:
            guard let type = r.u16(12) else { throw .truncated(.link) }
            return try skipVLANTags(r, typeOffset: 12, type: type, into: &s)
        case .linuxCooked:
            guard let packetType = r.u16(0), let type = r.u16(14) else { throw .truncated(.link) }
            s.linkDirection = packetType == 4 ? .outgoing : (packetType <= 3 ? .incoming : .unknown)
            return try skipVLANTags(r, typeOffset: 14, type: type, into: &s)
        case .linuxCookedV2:
            guard let type = r.u16(0), let index = r.u32(4), let packetType = r.u8(10), r.count >= 20 else {
                throw .truncated(.link)
            }
            s.interfaceIndex = Int32(bitPattern: index)
            s.linkDirection = packetType == 4 ? .outgoing : (packetType <= 3 ? .incoming : .unknown)
            if type == 0x8100 || type == 0x88a8 || type == 0x9100 {
                return try skipVLANTags(r, typeOffset: 16, type: type, into: &s, firstTagAt: 20)
            }
            return (20, type)
        case .null, .loop:
            guard let b0 = r.u8(0), let b1 = r.u8(1), let b2 = r.u8(2), let b3 = r.u8(3) else {
                throw .truncated(.link)
            }
            // DLT_NULL's family is in the writer's byte order; DLT_LOOP's in network order. Accept both.
            let family = b0 == 0 && b1 == 0 ? UInt32(b2) << 8 | UInt32(b3) : UInt32(b1) << 8 | UInt32(b0)
            switch family {
            case 2: return (4, 0x0800)
            case 10, 24, 28, 30: return (4, 0x86dd)  // AF_INET6 on Linux, BSDs and Darwin
            default: throw .notIP
            }
        case .raw:
            guard let first = r.u8(0) else { throw .truncated(.link) }
            switch first >> 4 {
            case 4: return (0, 0x0800)
            case 6: return (0, 0x86dd)
            default: throw .notIP
            }
        case .ipv4:
            return (0, 0x0800)
        case .ipv6:
            return (0, 0x86dd)
        case .unsupported(let value):
            throw .unsupportedLinkType(value)
        }
    }

    /// Walks 802.1Q / 802.1ad (QinQ) tags; `firstTagAt` is where the first tag's TCI sits.
    
    func skipVLANTags(
        _ r: ByteReader, typeOffset: Int, type: UInt16, into s: inout PacketSummary, firstTagAt: Int? = nil
    ) throws(DecodeError) -> (Int, UInt16) {
        var type = type
        var offset = firstTagAt.map { $0 - 2 } ?? typeOffset
        var tags = 0
        while type == 0x8100 || type == 0x88a8 || type == 0x9100 {
            tags += 1
            guard tags <= 8 else { throw .malformed(.link) }
            guard let tci = r.u16(offset + 2), let next = r.u16(offset + 4) else { throw .truncated(.link) }
            if s.vlan == 0 { s.vlan = tci & 0x0fff }
            type = next
            offset += 4
        }
        return (offset + 2, type)
    }

    // MARK: IP

    
    func decodeIPv4(_ r: ByteReader, at start: Int, wireAvailable: Int, into s: inout PacketSummary) throws(DecodeError) {
        guard let versionIHL = r.u8(start), let totalLength = r.u16(start + 2),
              let fragmentField = r.u16(start + 6), let identification = r.u16(start + 4),
              let proto = r.u8(start + 9), let src = r.u32(start + 12), let dst = r.u32(start + 16)
        else { throw .truncated(.ipv4) }
        guard versionIHL >> 4 == 4 else { throw .malformed(.ipv4) }
        let headerLength = Int(versionIHL & 0x0f) * 4
        guard headerLength >= 20 else { throw .malformed(.ipv4) }
        guard r.count >= start + headerLength else { throw .truncated(.ipv4) }
        var length = Int(totalLength)
        if length == 0 {
            // Segmentation offload can leave the field zero on captured super-packets: trust the wire.
            length = wireAvailable
        }
        guard length >= headerLength else { throw .malformed(.ipv4) }
        // A datagram longer than what crossed the wire is a lie; counting it would inflate byte totals.
        guard length <= wireAvailable else { throw .malformed(.ipv4) }
        s.source = IPAddress(v4: src)
        s.destination = IPAddress(v4: dst)
        s.ipProtocol = proto
        s.ipLength = length
        s.hopLimit = r.u8(start + 8) ?? 0
        if linkType == .linuxCookedV2 { s.copyFingerprint = UInt64(identification) << 32 | UInt64(length) }
        let fragmentOffset = fragmentField & 0x1fff
        let moreFragments = fragmentField & 0x2000 != 0
        if fragmentOffset != 0 || moreFragments {
            s.isFragment = true
            s.fragmentIdentifier = UInt32(identification)
            if fragmentOffset != 0 {
                s.isLaterFragment = true
                return
            }
        }
        try decodeTransport(r, at: start + headerLength, end: start + length, into: &s)
    }

    
    func decodeIPv6(_ r: ByteReader, at start: Int, wireAvailable: Int, into s: inout PacketSummary) throws(DecodeError) {
        guard let first = r.u8(start), let payloadLength = r.u16(start + 4), let next = r.u8(start + 6),
              let srcHigh = r.u64(start + 8), let srcLow = r.u64(start + 16),
              let dstHigh = r.u64(start + 24), let dstLow = r.u64(start + 32)
        else { throw .truncated(.ipv6) }
        guard first >> 4 == 6 else { throw .malformed(.ipv6) }
        s.hopLimit = r.u8(start + 7) ?? 0
        if linkType == .linuxCookedV2, let word = r.u32(start) {
            s.copyFingerprint = UInt64(word & 0x000f_ffff) << 32 | UInt64(payloadLength) | 1 << 63
        }
        s.source = IPAddress(v6High: srcHigh, low: srcLow)
        s.destination = IPAddress(v6High: dstHigh, low: dstLow)
        var length = Int(payloadLength) + 40
        if payloadLength == 0 {
            // Jumbograms and offloaded super-packets: the wire length is the truth.
            length = max(wireAvailable, 40)
        }
        // A datagram longer than what crossed the wire is a lie; counting it would inflate byte totals.
        guard length <= max(wireAvailable, 40) else { throw .malformed(.ipv6) }
        s.ipLength = length
        let end = start + length
        var header = next
        var offset = start + 40
        var walked = 0
        while true {
            walked += 1
            guard walked <= 32 else { throw .malformed(.extensionHeader) }
            switch header {
            case 0, 43, 60, 135, 139, 140:
                // Hop-by-hop, routing, destination options, mobility, HIP, shim6: length in 8-octet units.
                guard let nh = r.u8(offset), let units = r.u8(offset + 1) else { throw .truncated(.extensionHeader) }
                header = nh
                offset += (Int(units) + 1) * 8
            case 44:
                guard let nh = r.u8(offset), let field = r.u16(offset + 2), let id = r.u32(offset + 4) else {
                    throw .truncated(.extensionHeader)
                }
                header = nh
                offset += 8
                let fragmentOffset = field >> 3
                let moreFragments = field & 1 != 0
                if fragmentOffset != 0 || moreFragments {
                    s.isFragment = true
                    s.fragmentIdentifier = id
                    if fragmentOffset != 0 {
                        s.ipProtocol = header
                        s.isLaterFragment = true
                        return
                    }
                }
            case 51:
                // Authentication header: length in 4-octet units, minus 2.
                guard let nh = r.u8(offset), let units = r.u8(offset + 1) else { throw .truncated(.extensionHeader) }
                header = nh
                offset += (Int(units) + 2) * 4
            default:
                s.ipProtocol = header
                if offset > end { throw .malformed(.extensionHeader) }
                try decodeTransport(r, at: offset, end: end, into: &s)
                return
            }
            if offset > end { throw .malformed(.extensionHeader) }
        }
    }

    // MARK: Transport

    /// Decodes the transport header at `offset`; `end` is where the IP datagram ends per its header.
    
    func decodeTransport(_ frame: ByteReader, at offset: Int, end: Int, into s: inout PacketSummary) throws(DecodeError) {
        // The transport header lies inside the datagram: bytes past its end are link padding, not header.
        let r = frame.prefix(end)
        switch s.ipProtocol {
        case IPProtocolNumber.tcp:
            guard let sp = r.u16(offset), let dp = r.u16(offset + 2), let dataOffset = r.u8(offset + 12),
                  let flags = r.u8(offset + 13)
            else { throw .truncated(.tcp) }
            let headerLength = Int(dataOffset >> 4) * 4
            guard headerLength >= 20 else { throw .malformed(.tcp) }
            s.sourcePort = sp
            s.destinationPort = dp
            s.tcpFlags = flags
            s.payloadLength = max(0, end - offset - headerLength)
            s.payloadOffset = offset + headerLength <= r.count ? offset + headerLength : -1
        case IPProtocolNumber.udp, IPProtocolNumber.udpLite:
            guard let sp = r.u16(offset), let dp = r.u16(offset + 2) else { throw .truncated(.udp) }
            s.sourcePort = sp
            s.destinationPort = dp
            s.payloadLength = max(0, end - offset - 8)
            s.payloadOffset = offset + 8 <= r.count ? offset + 8 : -1
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            guard let type = r.u8(offset), let code = r.u8(offset + 1) else { throw .truncated(.icmp) }
            s.icmpType = type
            s.icmpCode = code
            if ICMPKind.carriesIdentifier(type: type, v6: s.ipProtocol == IPProtocolNumber.icmpv6) {
                guard let id = r.u16(offset + 4) else { throw .truncated(.icmp) }
                s.icmpIdentifier = id
            }
            s.payloadLength = max(0, end - offset - 8)
        case IPProtocolNumber.sctp:
            guard let sp = r.u16(offset), let dp = r.u16(offset + 2), r.count >= offset + 12 else {
                throw .truncated(.sctp)
            }
            s.sourcePort = sp
            s.destinationPort = dp
            s.payloadLength = max(0, end - offset - 12)
        default:
            s.payloadLength = max(0, end - offset)
        }
        if s.copyFingerprint != 0 { s.copyFingerprint = Self.fingerprint(r, transportAt: offset, seed: s.copyFingerprint, transport: s.ipProtocol) }
    }

    /// Folds into `seed` the transport fields that address translation does not rewrite: not the
    /// ports, checksums or an ICMP identifier. Reads only what was captured.
    static func fingerprint(_ r: ByteReader, transportAt offset: Int, seed: UInt64, transport: UInt8) -> UInt64 {
        var h = seed ^ UInt64(transport) << 56
        @inline(__always) func fold(_ word: UInt64) {
            h = (h ^ word) &* 0x9e37_79b9_7f4a_7c15
            h ^= h >> 29
        }
        switch transport {
        case IPProtocolNumber.tcp:
            fold(r.u64(offset + 4) ?? 0)  // sequence and acknowledgement numbers
            fold(UInt64(r.u32(offset + 12) ?? 0))  // data offset, flags, window
            fold(r.u64(r.u8(offset + 12).map { offset + Int($0 >> 4) * 4 } ?? offset) ?? 0)
        case IPProtocolNumber.udp, IPProtocolNumber.udpLite:
            fold(UInt64(r.u16(offset + 4) ?? 0))
            fold(r.u64(offset + 8) ?? UInt64(r.u32(offset + 8) ?? 0))
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            fold(UInt64(r.u16(offset) ?? 0) << 16 | UInt64(r.u16(offset + 6) ?? 0))
            fold(r.u64(offset + 8) ?? 0)
        default:
            fold(r.u64(offset) ?? 0)
        }
        return h | 1  // never zero: zero means "no fingerprint"
    }
}

/// Bounds-checked big-endian reads from a captured frame; every read returns nil past the end.

struct ByteReader {
    let base: UnsafeRawBufferPointer

    init(_ base: UnsafeRawBufferPointer) { self.base = base }

    var count: Int { base.count }

    /// A reader of the first `end` bytes only (all of them when `end` is past the end).
    func prefix(_ end: Int) -> ByteReader {
        ByteReader(UnsafeRawBufferPointer(rebasing: base[..<min(max(end, 0), base.count)]))
    }

    func u8(_ offset: Int) -> UInt8? {
        guard offset >= 0, offset < base.count else { return nil }
        return base[offset]
    }

    func u16(_ offset: Int) -> UInt16? {
        guard offset >= 0, offset <= base.count - 2 else { return nil }
        return UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) -> UInt32? {
        guard offset >= 0, offset <= base.count - 4 else { return nil }
        return UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func u64(_ offset: Int) -> UInt64? {
        guard offset >= 0, offset <= base.count - 8 else { return nil }
        return UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

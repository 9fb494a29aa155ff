public import Reporting
import PacketParsing

/// Encodes finished flows as IPFIX messages (RFC 7011): a template set per address family and data
/// records that follow them. Pure: no sockets, no clock (times are passed in).
///
/// Each flow becomes one record per direction that carried packets (IPFIX flows are one-way): from
/// the local end to the remote with the flow's `bytes_out`, and back with its `bytes_in`. Standard
/// information elements carry the 5-tuple, counts and times; elements of our own (enterprise bit
/// set, `enterpriseNumber`) carry the program, its role and pid, the destination's observed name,
/// this machine's name and the flow's uid.
public struct IPFIXEncoder: Sendable {
    /// IANA's Private Enterprise Number reserved for documentation (RFC 5612), the default for the
    /// elements of our own: a collector must be told what they mean either way.
    public static let documentationEnterpriseNumber: UInt32 = 32473

    /// Our elements, numbered under `enterpriseNumber`.
    public enum Element: UInt16, CaseIterable, Sendable {
        /// The executable's path (string).
        case executable = 1
        /// The process's role from the rules, such as model-runtime (string).
        case role = 2
        /// The process id (unsigned32).
        case pid = 3
        /// The destination's name as observed (DNS answer, TLS/QUIC SNI, HTTP Host) (string).
        case destinationHostname = 4
        /// The name of the machine that observed the flow (string).
        case observerHostname = 5
        /// The flow's uid, as in `telltale report` (string).
        case flowUID = 6
        /// The process's user name (string).
        case user = 7
        /// What a person calls the program: `open-webui`, `llama_cpp.server` (string).
        case program = 8
        /// What content inspection could see: `tls-plaintext`, `wire-plaintext`, `opaque`,
        /// `not-inspected` (string, empty when inspection was off).
        case contentVisibility = 9
        /// Prompts or canaries a run of whose words the flow carried (unsigned32).
        case promptMatches = 10
    }

    public static let ipv4TemplateID: UInt16 = 256
    public static let ipv6TemplateID: UInt16 = 257
    static let variableLength: UInt16 = 65535
    /// Longest string carried; longer ones are cut at a character boundary.
    static let maximumStringBytes = 1024

    public var observationDomain: UInt32
    public var enterpriseNumber: UInt32
    public var observerHostname: String
    /// Data records sent so far (the header's sequence number counts them, modulo 2^32).
    public private(set) var sequence: UInt32 = 0

    public init(observationDomain: UInt32 = 1, enterpriseNumber: UInt32 = IPFIXEncoder.documentationEnterpriseNumber, observerHostname: String) {
        self.observationDomain = observationDomain
        self.enterpriseNumber = enterpriseNumber
        self.observerHostname = observerHostname
    }

    /// (element id, length, enterprise) of a template, in record order.
    static func fields(ipv6: Bool) -> [(id: UInt16, length: UInt16, enterprise: Bool)] {
        [
            (152, 8, false),  // flowStartMilliseconds
            (153, 8, false),  // flowEndMilliseconds
            (1, 8, false),  // octetDeltaCount
            (2, 8, false),  // packetDeltaCount
            (ipv6 ? 27 : 8, ipv6 ? 16 : 4, false),  // sourceIPv6Address / sourceIPv4Address
            (ipv6 ? 28 : 12, ipv6 ? 16 : 4, false),  // destinationIPv6Address / destinationIPv4Address
            (7, 2, false),  // sourceTransportPort
            (11, 2, false),  // destinationTransportPort
            (4, 1, false),  // protocolIdentifier
            (61, 1, false),  // flowDirection: 0 ingress, 1 egress
            (Element.executable.rawValue, variableLength, true),
            (Element.role.rawValue, variableLength, true),
            (Element.pid.rawValue, 4, true),
            (Element.destinationHostname.rawValue, variableLength, true),
            (Element.observerHostname.rawValue, variableLength, true),
            (Element.flowUID.rawValue, variableLength, true),
            (Element.user.rawValue, variableLength, true),
            (Element.program.rawValue, variableLength, true),
            (Element.contentVisibility.rawValue, variableLength, true),
            (Element.promptMatches.rawValue, 4, true),
        ]
    }

    /// The template set announcing both templates.
    public func templateSet() -> [UInt8] {
        var body: [UInt8] = []
        for (id, ipv6) in [(IPFIXEncoder.ipv4TemplateID, false), (IPFIXEncoder.ipv6TemplateID, true)] {
            let fields = IPFIXEncoder.fields(ipv6: ipv6)
            body.appendBigEndian(id)
            body.appendBigEndian(UInt16(fields.count))
            for field in fields {
                body.appendBigEndian(field.enterprise ? field.id | 0x8000 : field.id)
                body.appendBigEndian(field.length)
                if field.enterprise { body.appendBigEndian(enterpriseNumber) }
            }
        }
        return IPFIXEncoder.set(id: 2, body: body)
    }

    /// One direction of a flow, ready to encode.
    struct Record {
        var ipv6: Bool
        var bytes: [UInt8]
    }

    /// The data records of a flow: one per direction that carried packets. Nil for a flow whose
    /// addresses are not IP addresses (nothing to export).
    func records(_ row: FlowRow) -> [Record]? {
        guard let local = IPFIXEncoder.addressBytes(row.localAddress), let remote = IPFIXEncoder.addressBytes(row.remoteAddress),
            local.count == remote.count
        else { return nil }
        let ipv6 = local.count == 16
        let isICMP = row.proto == "icmp" || row.proto == "icmpv6"
        var result: [Record] = []
        // The row's ports face this machine; ICMP's are its type and code (see FlowRow), which
        // IPFIX collectors such as nfdump read from destinationTransportPort as type * 256 + code.
        let directions: [(bytes: Int64, packets: Int64, from: [UInt8], to: [UInt8], fromPort: Int, toPort: Int, egress: Bool)] = [
            (row.bytesOut, row.packetsOut, local, remote, row.localPort, row.remotePort, true),
            (row.bytesIn, row.packetsIn, remote, local, row.remotePort, row.localPort, false),
        ]
        for d in directions where d.packets > 0 {
            var r: [UInt8] = []
            r.appendBigEndian(UInt64(max(0, row.start / 1_000_000)))
            r.appendBigEndian(UInt64(max(0, row.end / 1_000_000)))
            r.appendBigEndian(UInt64(max(0, d.bytes)))
            r.appendBigEndian(UInt64(max(0, d.packets)))
            r += d.from
            r += d.to
            if isICMP {
                r.appendBigEndian(UInt16(0))
                r.appendBigEndian(UInt16(truncatingIfNeeded: (row.localPort & 0xff) << 8 | (row.remotePort & 0xff)))
            } else {
                r.appendBigEndian(UInt16(truncatingIfNeeded: d.fromPort))
                r.appendBigEndian(UInt16(truncatingIfNeeded: d.toPort))
            }
            r.append(row.ipProtocol)
            r.append(d.egress ? 1 : 0)
            IPFIXEncoder.appendString(row.process?.exe, to: &r)
            IPFIXEncoder.appendString(row.process?.role, to: &r)
            r.appendBigEndian(UInt32(truncatingIfNeeded: row.process?.pid ?? 0))
            IPFIXEncoder.appendString(row.hostname, to: &r)
            IPFIXEncoder.appendString(observerHostname, to: &r)
            IPFIXEncoder.appendString(row.uid, to: &r)
            IPFIXEncoder.appendString(row.process?.user, to: &r)
            IPFIXEncoder.appendString(row.process?.program, to: &r)
            IPFIXEncoder.appendString(row.content?.visibility, to: &r)
            r.appendBigEndian(UInt32(clamping: row.content?.promptMatches ?? 0))
            result.append(Record(ipv6: ipv6, bytes: r))
        }
        return result
    }

    /// Packs flows into messages of at most `maximumSize` bytes, each starting with the templates when
    /// `withTemplates` (UDP sends them periodically; TCP once per connection). Advances `sequence`.
    public mutating func messages(_ rows: [FlowRow], exportTime: UInt32, maximumSize: Int = 1400, withTemplates: Bool) -> [[UInt8]] {
        var records: [Record] = []
        for row in rows { records += self.records(row) ?? [] }
        var messages: [[UInt8]] = []
        let templates = withTemplates ? templateSet() : []
        var index = 0
        repeat {
            var sets: [UInt8] = messages.isEmpty ? templates : []
            var count: UInt32 = 0
            // One data set per template in a message, records in flow order within each.
            var current: (ipv6: Bool, body: [UInt8])?
            while index < records.count {
                let record = records[index]
                let setOverhead = current?.ipv6 == record.ipv6 ? 0 : 4
                let pending = (current.map { $0.body.count + 4 } ?? 0)
                if 16 + sets.count + pending + setOverhead + record.bytes.count > maximumSize && (count > 0 || !sets.isEmpty) { break }
                if let c = current, c.ipv6 != record.ipv6 {
                    sets += IPFIXEncoder.set(id: c.ipv6 ? IPFIXEncoder.ipv6TemplateID : IPFIXEncoder.ipv4TemplateID, body: c.body)
                    current = nil
                }
                if current == nil { current = (record.ipv6, []) }
                current?.body += record.bytes
                count += 1
                index += 1
            }
            if let c = current {
                sets += IPFIXEncoder.set(id: c.ipv6 ? IPFIXEncoder.ipv6TemplateID : IPFIXEncoder.ipv4TemplateID, body: c.body)
            }
            if sets.isEmpty { break }
            messages.append(header(length: 16 + sets.count, exportTime: exportTime) + sets)
            sequence &+= count
        } while index < records.count
        return messages
    }

    /// A message with the templates only (a UDP refresh with no flow to send).
    public func templateMessage(exportTime: UInt32) -> [UInt8] {
        let sets = templateSet()
        return header(length: 16 + sets.count, exportTime: exportTime) + sets
    }

    /// The message header; the sequence number is that of the message's first data record.
    func header(length: Int, exportTime: UInt32) -> [UInt8] {
        var h: [UInt8] = []
        h.appendBigEndian(UInt16(10))
        h.appendBigEndian(UInt16(truncatingIfNeeded: length))
        h.appendBigEndian(exportTime)
        h.appendBigEndian(sequence)
        h.appendBigEndian(observationDomain)
        return h
    }

    static func set(id: UInt16, body: [UInt8]) -> [UInt8] {
        var s: [UInt8] = []
        s.appendBigEndian(id)
        s.appendBigEndian(UInt16(truncatingIfNeeded: body.count + 4))
        return s + body
    }

    /// A variable-length string: one length byte, or 255 and two length bytes (RFC 7011, 7.).
    static func appendString(_ value: String?, to out: inout [UInt8]) {
        var bytes = Array((value ?? "").utf8)
        if bytes.count > maximumStringBytes {
            var end = maximumStringBytes
            // Do not cut inside a UTF-8 sequence: back up over continuation bytes.
            while end > 0 && bytes[end] & 0xc0 == 0x80 { end -= 1 }
            bytes = Array(bytes[..<end])
        }
        if bytes.count < 255 {
            out.append(UInt8(bytes.count))
        } else {
            out.append(255)
            out.appendBigEndian(UInt16(bytes.count))
        }
        out += bytes
    }

    /// The 4 or 16 bytes of an address written as text by the report.
    static func addressBytes(_ text: String) -> [UInt8]? {
        IPAddress(text)?.bytes
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

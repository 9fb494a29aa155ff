public import PacketParsing

/// The Community ID flow hash (version 1), so flows can be matched with Zeek, Suricata and others.
public enum CommunityID {
    /// Computes `1:<base64 sha1>` for a flow's originator and responder endpoints.
    ///
    /// For ICMP the "ports" are the type and the code (or the type's counterpart), per the spec.
    public static func compute(
        ipProtocol: UInt8, source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
        seed: UInt16 = 0
    ) -> String {
        var sourcePort = sourcePort, destinationPort = destinationPort
        var oneWay = false
        if ipProtocol == IPProtocolNumber.icmp || ipProtocol == IPProtocolNumber.icmpv6 {
            let type = UInt8(truncatingIfNeeded: sourcePort)
            if let counterpart = icmpCounterpart(type: type, v6: ipProtocol == IPProtocolNumber.icmpv6) {
                destinationPort = UInt16(counterpart)
            } else {
                oneWay = true
            }
        }
        var a = (source, sourcePort), b = (destination, destinationPort)
        let ordered = a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
        if !oneWay && !ordered { swap(&a, &b) }
        var message: [UInt8] = [UInt8(seed >> 8), UInt8(seed & 0xff)]
        message += a.0.bytes
        message += b.0.bytes
        message += [ipProtocol, 0]
        switch ipProtocol {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp,
             IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            message += [UInt8(a.1 >> 8), UInt8(a.1 & 0xff), UInt8(b.1 >> 8), UInt8(b.1 & 0xff)]
        default:
            break
        }
        return "1:" + base64(SHA1.digest(message))
    }

    /// The community id of a flow record.
    public static func of(_ r: FlowRecord, seed: UInt16 = 0) -> String {
        if r.isICMP {
            // A flow first seen at its reply keeps the reply's type, and the reply went from the
            // responder to the originator: hash it the way it travelled.
            let reply = ICMPKind.isReply(r.icmpType, v6: r.ipProtocol == IPProtocolNumber.icmpv6)
            return compute(
                ipProtocol: r.ipProtocol, source: reply ? r.responderAddress : r.originatorAddress,
                destination: reply ? r.originatorAddress : r.responderAddress,
                sourcePort: UInt16(r.icmpType), destinationPort: UInt16(r.icmpCode), seed: seed)
        }
        return compute(
            ipProtocol: r.ipProtocol, source: r.originatorAddress, destination: r.responderAddress,
            sourcePort: r.originatorPort, destinationPort: r.responderPort, seed: seed)
    }

    /// The type of the paired message, or nil for messages without a counterpart (one-way).
    static func icmpCounterpart(type: UInt8, v6: Bool) -> UInt8? {
        let table: [UInt8: UInt8] = v6
            ? [128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144]
            : [8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17]
        return table[type]
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

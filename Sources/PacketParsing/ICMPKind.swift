/// Classifies ICMP and ICMPv6 message types: which carry a query identifier, and which request
/// each reply answers, so that both halves of an exchange land in one flow.
public enum ICMPKind {
    /// Whether the message carries an identifier in bytes 4–5 (echo, timestamp, information, mask).
    
    public static func carriesIdentifier(type: UInt8, v6: Bool) -> Bool {
        if v6 { return type == 128 || type == 129 }
        switch type {
        case 0, 8, 13, 14, 15, 16, 17, 18: return true
        default: return false
        }
    }

    /// The request type that a message belongs with: a reply maps to its request, anything else to itself.
    
    public static func requestType(of type: UInt8, v6: Bool) -> UInt8 {
        if v6 {
            switch type {
            case 129: return 128
            case 131, 132: return 130  // multicast listener report/done pair with query
            case 134: return 133  // router advertisement answers solicitation
            case 136: return 135  // neighbour advertisement answers solicitation
            default: return type
            }
        }
        switch type {
        case 0: return 8
        case 14: return 13
        case 16: return 15
        case 18: return 17
        case 9: return 10  // router advertisement answers solicitation
        default: return type
        }
    }

    /// Whether the message is a reply (its sender is the responder of the exchange).
    
    public static func isReply(_ type: UInt8, v6: Bool) -> Bool {
        requestType(of: type, v6: v6) != type
    }
}

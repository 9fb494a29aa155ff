/// Why a frame could not be decoded. The decoder throws these; it never traps on outside bytes.
public enum DecodeError: Error, Equatable, Sendable {
    /// The protocol layer in which decoding stopped.
    public enum Layer: String, Sendable {
        case link, ipv4, ipv6, extensionHeader = "ipv6-extension", tcp, udp, icmp, sctp
    }

    /// The frame ended before the layer's header did.
    case truncated(Layer)
    /// A header field holds a value that cannot be right (version, header length, total length).
    case malformed(Layer)
    /// The frame is valid but carries no IP (ARP, LLDP, spanning tree…).
    case notIP
    /// The capture's link type is not one the decoder knows.
    case unsupportedLinkType(Int32)
}

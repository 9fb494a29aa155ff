/// The link-layer header type of a capture, by its pcap `LINKTYPE_`/`DLT_` number.
public enum LinkType: Sendable, Hashable {
    case ethernet
    case linuxCooked
    case linuxCookedV2
    case null
    case loop
    case raw
    case ipv4
    case ipv6
    case unsupported(Int32)

    /// Maps a `pcap_datalink` value (DLT) or a file's LINKTYPE to the decoder's link type.
    public init(dataLinkType value: Int32) {
        switch value {
        case 1: self = .ethernet
        case 113: self = .linuxCooked
        case 276: self = .linuxCookedV2
        case 0: self = .null
        case 108: self = .loop
        case 12, 14, 101: self = .raw  // DLT_RAW differs between platforms; LINKTYPE_RAW is 101
        case 228: self = .ipv4
        case 229: self = .ipv6
        default: self = .unsupported(value)
        }
    }

    /// The LINKTYPE number written into capture files.
    public var fileLinkType: UInt32 {
        switch self {
        case .ethernet: 1
        case .linuxCooked: 113
        case .linuxCookedV2: 276
        case .null: 0
        case .loop: 108
        case .raw: 101
        case .ipv4: 228
        case .ipv6: 229
        case .unsupported(let value): UInt32(bitPattern: value)
        }
    }
}

extension LinkType: CustomStringConvertible {
    public var description: String {
        switch self {
        case .ethernet: "ethernet"
        case .linuxCooked: "linux-sll"
        case .linuxCookedV2: "linux-sll2"
        case .null: "null"
        case .loop: "loop"
        case .raw: "raw"
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .unsupported(let value): "linktype-\(value)"
        }
    }
}

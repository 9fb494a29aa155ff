import PacketParsing
import TestSupport

/// Decodes a frame built by the test, as the capture path would (wire length = frame length).
func decode(_ frame: [UInt8], as link: FrameBuilder.Link, wireLength: Int? = nil) throws(DecodeError) -> PacketSummary {
    try decode(frame, linkType: link.linkType, wireLength: wireLength)
}

func decode(_ frame: [UInt8], linkType: LinkType, wireLength: Int? = nil) throws(DecodeError) -> PacketSummary {
    let decoder = PacketDecoder(linkType: linkType)
    let result: Result<PacketSummary, DecodeError> = frame.withUnsafeBytes { bytes in
        do throws(DecodeError) {
            return .success(try decoder.decode(bytes, wireLength: wireLength ?? frame.count))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

/// The error a frame gives, or nil when it decodes.
func decodeError(_ frame: [UInt8], as link: FrameBuilder.Link, wireLength: Int? = nil) -> DecodeError? {
    do {
        _ = try decode(frame, as: link, wireLength: wireLength)
        return nil
    } catch {
        return error
    }
}

let clientV4: IPAddress = "10.1.2.3"
let serverV4: IPAddress = "198.18.0.7"
let clientV6: IPAddress = "fd00:18::1"
let serverV6: IPAddress = "2001:db8::7"

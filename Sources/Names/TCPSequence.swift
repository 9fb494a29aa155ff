public import PacketParsing

/// Finds a TCP segment's sequence number in its frame, from the summary alone.
public enum TCPSequence {
    /// The sequence number, found by locating the TCP header that ends at the payload: its data
    /// offset must match the distance, and its ports the summary's. Nil when no header fits.
    public static func of(_ packet: PacketSummary, in frame: UnsafeRawBufferPointer) -> UInt32? {
        let payload = packet.payloadOffset
        for words in 5...15 {
            let start = payload - 4 * words
            guard start >= 0, start + 20 <= frame.count else { continue }
            guard Int(frame[start + 12] >> 4) == words else { continue }
            let sourcePort = UInt16(frame[start]) << 8 | UInt16(frame[start + 1])
            let destinationPort = UInt16(frame[start + 2]) << 8 | UInt16(frame[start + 3])
            guard sourcePort == packet.sourcePort, destinationPort == packet.destinationPort else { continue }
            return UInt32(frame[start + 4]) << 24 | UInt32(frame[start + 5]) << 16 | UInt32(frame[start + 6]) << 8 | UInt32(frame[start + 7])
        }
        return nil
    }
}

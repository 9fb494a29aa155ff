/// Zeek's TCP history string, kept inline: one letter per event kind and direction, in the order first
/// seen (uppercase from the originator, lowercase from the responder, `^` when the roles were flipped).
public struct TCPHistory: Sendable, Equatable {
    /// The letters in order, four bits each from the lowest: a letter's code is its position in
    /// `alphabet` plus one, so the first zero nibble ends the history. Each of the 13 letters comes
    /// at most once: 52 bits. (Ten bytes with `seen`, where a byte per letter took 24.)
    var packed: UInt64 = 0
    /// The letters recorded so far, as bits: an event kind's bit (plus 6 from the responder), and
    /// bit 12 for the flip.
    var seen: UInt16 = 0

    public init() {}

    /// Every letter a history may hold; a letter's code is its position plus one.
    static let alphabet: [UInt8] = Array("SHADFRshadfr^".utf8)

    /// Event kinds recorded in the history.
    public enum Event: UInt8, Sendable {
        case syn = 0, synAck, ack, data, fin, reset
    }

    /// Records an event once per direction.
    public mutating func record(_ event: Event, fromOriginator: Bool) {
        let code = UInt16(event.rawValue) + (fromOriginator ? 0 : 6)
        guard seen & (1 << code) == 0 else { return }
        seen |= 1 << code
        append(code: code + 1)
    }

    /// Marks that the originator was re-assigned after the first packet.
    public mutating func recordFlip() {
        guard seen & (1 << 12) == 0 else { return }
        seen |= 1 << 12
        append(code: 13)
    }

    /// Swaps the case of every letter: the originator and responder traded places.
    public mutating func swapDirections() {
        let codes = self.codes
        var swapped = TCPHistory()
        swapped.seen = ((seen & 0x3f) << 6) | ((seen >> 6) & 0x3f) | (seen & (1 << 12))
        for code in codes {
            swapped.append(code: code == 13 ? 13 : code <= 6 ? code + 6 : code - 6)
        }
        self = swapped
    }

    /// How many letters the history holds.
    var count: Int { (64 - packed.leadingZeroBitCount + 3) / 4 }

    mutating func append(code: UInt16) {
        let count = self.count
        guard count < 16 else { return }
        packed |= UInt64(code) << (UInt64(count) * 4)
    }

    private var codes: [UInt16] {
        (0..<count).map { UInt16(truncatingIfNeeded: packed >> (UInt64($0) * 4)) & 0xf }
    }

    var letters: [UInt8] { codes.map { TCPHistory.alphabet[Int($0) - 1] } }

    public var text: String { String(decoding: letters, as: UTF8.self) }

    public static func == (lhs: TCPHistory, rhs: TCPHistory) -> Bool {
        lhs.packed == rhs.packed
    }
}

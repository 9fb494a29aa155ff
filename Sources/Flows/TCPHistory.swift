/// Zeek's TCP history string, kept inline: one letter per event kind and direction, in the order first
/// seen (uppercase from the originator, lowercase from the responder, `^` when the roles were flipped).
public struct TCPHistory: Sendable, Equatable {
    var packed: (UInt64, UInt64) = (0, 0)
    var count: UInt8 = 0
    var seen: UInt32 = 0

    public init() {}

    /// Event kinds recorded in the history.
    public enum Event: UInt8, Sendable {
        case syn = 0, synAck, ack, data, fin, reset

        var letter: UInt8 {
            switch self {
            case .syn: UInt8(ascii: "S")
            case .synAck: UInt8(ascii: "H")
            case .ack: UInt8(ascii: "A")
            case .data: UInt8(ascii: "D")
            case .fin: UInt8(ascii: "F")
            case .reset: UInt8(ascii: "R")
            }
        }
    }

    /// Records an event once per direction.
    
    public mutating func record(_ event: Event, fromOriginator: Bool) {
        let bit: UInt32 = 1 << (UInt32(event.rawValue) + (fromOriginator ? 0 : 8))
        guard seen & bit == 0 else { return }
        seen |= bit
        append(fromOriginator ? event.letter : event.letter + 32)
    }

    /// Marks that the originator was re-assigned after the first packet.
    
    public mutating func recordFlip() {
        guard seen & (1 << 20) == 0 else { return }
        seen |= 1 << 20
        append(UInt8(ascii: "^"))
    }

    /// Swaps the case of every letter: the originator and responder traded places.
    public mutating func swapDirections() {
        let letters = self.letters
        var swapped = TCPHistory()
        swapped.seen = ((seen & 0xff) << 8) | ((seen >> 8) & 0xff) | (seen & (1 << 20))
        for letter in letters {
            if letter >= 65 && letter <= 90 { swapped.append(letter + 32) }
            else if letter >= 97 && letter <= 122 { swapped.append(letter - 32) }
            else { swapped.append(letter) }
        }
        self = swapped
    }

    
    mutating func append(_ letter: UInt8) {
        guard count < 16 else { return }
        let shift = UInt64(count % 8) * 8
        if count < 8 { packed.0 |= UInt64(letter) << shift } else { packed.1 |= UInt64(letter) << shift }
        count += 1
    }

    var letters: [UInt8] {
        (0..<Int(count)).map { i in
            let word = i < 8 ? packed.0 : packed.1
            return UInt8(truncatingIfNeeded: word >> (UInt64(i % 8) * 8))
        }
    }

    public var text: String { String(decoding: letters, as: UTF8.self) }

    public static func == (lhs: TCPHistory, rhs: TCPHistory) -> Bool {
        lhs.packed == rhs.packed && lhs.count == rhs.count
    }
}

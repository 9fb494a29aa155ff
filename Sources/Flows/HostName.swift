/// A destination's name as flow records hold it: one object per distinct name, shared by every flow
/// that carries it (8 bytes in a record, where a string took 16).
public final class HostName: Sendable, Equatable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) {
        self.text = text
    }

    public var description: String { text }

    public static func == (lhs: HostName, rhs: HostName) -> Bool { lhs === rhs || lhs.text == rhs.text }
}

/// How content evidence is gathered: whether at all, how long prompts' fingerprints are kept, how
/// long a run of words must be to count, and how much memory fingerprints may take.
public struct ContentSettings: Sendable, Equatable {
    /// Inspect content (needs CAP_SYS_ADMIN for the TLS probes; without it, wire plaintext only).
    public var enabled = false
    /// How long a prompt's fingerprints are kept, in nanoseconds (default 24 h).
    public var retention: Int64 = 24 * 3_600 * 1_000_000_000
    /// The shortest run of a prompt's words that counts as a leak (the `content/prompt-leak` rule).
    public var minimumWords = 8
    /// Memory the prompts' fingerprints may take; the oldest are forgotten (and counted) beyond it.
    public var memoryBytes: Int64 = 64 << 20
    /// Loopback ports of model runtimes Telltale does not know by name: a program calling one is a
    /// chat client (by relation), as one calling a process with the model-runtime role is. Prompts
    /// to a runtime API path are fingerprinted whatever the port.
    public var runtimePorts: Set<UInt16> = []

    public init() {}
}

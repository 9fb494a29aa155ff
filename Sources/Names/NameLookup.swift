public import Flows

/// Where a flow's hostname came from, as the report names it.
public enum NameSource: String, Sendable, Hashable {
    /// A DNS answer to a query sent by the flow's own process.
    case dns
    /// A DNS answer seen on the machine, to a query of any (or an unknown) process.
    case dnsGlobal = "dns-global"
    /// The server name of the flow's own TLS ClientHello.
    case sni
    /// The server name of the flow's own QUIC Initial ClientHello.
    case quicSNI = "quic-sni"
    /// The Host header of the flow's own HTTP/1 request.
    case httpHost = "http-host"
}

/// A name for a destination, with where and when it was learned.
public struct NameLookup: Sendable, Equatable {
    /// The name, as the name table interned it (one object per distinct name).
    public var name: HostName
    public var hostname: String { name.text }
    public var source: NameSource
    /// When the name was observed, in nanoseconds since the Unix epoch.
    public var learnedAt: Int64
    /// The DNS time to live in seconds; nil for names from the flow itself.
    public var ttl: UInt32?
    /// Whether the ClientHello was encrypted (ECH): `hostname` is then the provider's public name.
    public var encryptedClientHello: Bool

    public init(hostname: String, source: NameSource, learnedAt: Int64, ttl: UInt32? = nil, encryptedClientHello: Bool = false) {
        self.init(name: HostName(hostname), source: source, learnedAt: learnedAt, ttl: ttl, encryptedClientHello: encryptedClientHello)
    }

    public init(name: HostName, source: NameSource, learnedAt: Int64, ttl: UInt32? = nil, encryptedClientHello: Bool = false) {
        self.name = name
        self.source = source
        self.learnedAt = learnedAt
        self.ttl = ttl
        self.encryptedClientHello = encryptedClientHello
    }
}

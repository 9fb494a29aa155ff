public import PacketParsing

/// A DNS message as far as naming needs it: header, questions, and the records of every section
/// that name addresses (A, AAAA, CNAME, HTTPS/SVCB with address hints).
public struct DNSMessage: Sendable, Equatable {
    /// One entry of the question section.
    public struct Question: Sendable, Equatable {
        /// The queried name, lower-cased, without the trailing dot.
        public var name: String
        public var type: UInt16
        public var recordClass: UInt16
        public init(name: String, type: UInt16, recordClass: UInt16 = 1) {
            self.name = name
            self.type = type
            self.recordClass = recordClass
        }
    }

    /// What a resource record says, for the types that name addresses.
    public enum RecordData: Sendable, Equatable {
        case address(IPAddress)
        case canonicalName(String)
        /// HTTPS (65) or SVCB (64): the target name ("" for the owner itself) and the address hints.
        case service(priority: UInt16, target: String, hints: [IPAddress])
        /// Any other type: only its length is kept.
        case other(length: Int)
    }

    /// One resource record.
    public struct Record: Sendable, Equatable {
        public var name: String
        public var type: UInt16
        public var recordClass: UInt16
        /// Time to live in seconds.
        public var ttl: UInt32
        public var data: RecordData
        public init(name: String, type: UInt16, recordClass: UInt16 = 1, ttl: UInt32, data: RecordData) {
            self.name = name
            self.type = type
            self.recordClass = recordClass
            self.ttl = ttl
            self.data = data
        }
    }

    /// Record type numbers used by name.
    public enum RecordType {
        public static let a: UInt16 = 1
        public static let cname: UInt16 = 5
        public static let aaaa: UInt16 = 28
        public static let svcb: UInt16 = 64
        public static let https: UInt16 = 65
    }

    public var id: UInt16
    public var flags: UInt16
    public var questions: [Question]
    public var answers: [Record]
    /// Records of the additional section (resolvers put address records there for HTTPS/SVCB targets).
    public var additionals: [Record]

    public init(id: UInt16, flags: UInt16, questions: [Question] = [], answers: [Record] = [], additionals: [Record] = []) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.additionals = additionals
    }

    /// Whether the QR bit marks a response.
    public var isResponse: Bool { flags & 0x8000 != 0 }
    /// The response code (0: no error, 3: no such name).
    public var responseCode: UInt8 { UInt8(flags & 0x000f) }
    /// Whether the TC bit says the message was cut to fit (the client retries over TCP).
    public var isTruncated: Bool { flags & 0x0200 != 0 }

    /// Every address the message gives, with the name the asking program knew it by: the question's
    /// name when a CNAME chain leads from it to the address's owner, the owner's name otherwise.
    public var addressBindings: [(name: String, address: IPAddress, ttl: UInt32)] {
        var aliasOf: [String: String] = [:]  // CNAME target → owner
        for record in answers + additionals {
            if case .canonicalName(let target) = record.data, aliasOf[target] == nil, target != record.name {
                aliasOf[target] = record.name
            }
        }
        let asked = Set(questions.map(\.name))
        func askedName(for owner: String) -> String {
            var name = owner
            var steps = 0
            // A chain is followed back at most 16 steps, so a CNAME loop ends.
            while !asked.contains(name), let previous = aliasOf[name], steps < 16 {
                name = previous
                steps += 1
            }
            return asked.contains(name) ? name : owner
        }
        // Additional records count only for names the answer led to (a CNAME or HTTPS/SVCB target):
        // anything else there is unsolicited, and taking it would let a server name any address.
        var wanted = asked.union(aliasOf.keys)
        for record in answers {
            if case .service(_, let target, _) = record.data, !target.isEmpty { wanted.insert(target) }
        }
        var out: [(name: String, address: IPAddress, ttl: UInt32)] = []
        for record in answers + additionals.filter({ wanted.contains($0.name) }) {
            switch record.data {
            case .address(let address):
                out.append((askedName(for: record.name), address, record.ttl))
            case .service(_, _, let hints):
                let owner = DNSMessage.serviceOwnerHost(record.name)
                for address in hints { out.append((askedName(for: owner), address, record.ttl)) }
            case .canonicalName, .other:
                continue
            }
        }
        return out
    }

    /// The host of an HTTPS/SVCB owner name: `_8443._https.example.com` names `example.com`.
    static func serviceOwnerHost(_ owner: String) -> String {
        var labels = owner.split(separator: ".", omittingEmptySubsequences: false)
        while let first = labels.first, first.hasPrefix("_"), labels.count > 1 { labels.removeFirst() }
        return labels.joined(separator: ".")
    }
}

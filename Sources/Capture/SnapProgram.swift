public import PacketParsing

/// One classic BPF instruction, as `struct bpf_insn` lays it out.
public struct FilterInstruction: Sendable, Equatable {
    public var code: UInt16
    public var jumpTrue: UInt8
    public var jumpFalse: UInt8
    public var value: UInt32

    public init(code: UInt16, jumpTrue: UInt8 = 0, jumpFalse: UInt8 = 0, value: UInt32 = 0) {
        self.code = code
        self.jumpTrue = jumpTrue
        self.jumpFalse = jumpFalse
        self.value = value
    }
}

/// A capture filter that returns a snap length per packet: the whole packet (up to the capture's
/// snap length) when naming may need its payload, only the headers otherwise.
///
/// An `AF_PACKET` socket filter's return value truncates the packet before the kernel copies it
/// into the ring, so bulk payload is never copied: a 1,500-byte data segment takes about 70 bytes
/// of ring, and the same ring holds twenty times the packets through a burst. Byte counts do not
/// change: they come from the IP header's total length, not from the bytes captured.
///
/// Kept whole: DNS (port 53 and mDNS/LLMNR, either direction, UDP and TCP); QUIC long-header packets
/// (Initials carry the SNI) on any UDP port; TCP segments that open or close a connection; TCP
/// payload that starts a TLS handshake record or an HTTP/1 request; TCP segments sent to ports 443
/// and 8443 (a ClientHello may span several segments, and only the first starts with a record
/// header); IP fragments, ICMP and anything not TCP or UDP over IPv4/IPv6 without extension headers
/// (rare and small). Everything else keeps its IP and TCP/UDP headers.
///
/// The program addresses the packet from its link header (as libpcap shows it); a cooked socket's
/// filter sees it from the network header on, which is the `.raw` layout. Without a link header it
/// reads the IP version from the network header itself.
public enum SnapProgram {
    /// The program for frames of `linkType`, keeping at most `snapLength` bytes; nil for link types
    /// whose network header is not at a fixed offset.
    public static func instructions(linkType: LinkType, snapLength: UInt32) -> [FilterInstruction]? {
        let network: UInt32
        switch linkType {
        case .ethernet: network = 14
        case .linuxCooked: network = 16
        case .linuxCookedV2: network = 20
        case .raw, .ipv4, .ipv6: network = 0
        case .null, .loop: network = 4
        case .unsupported: return nil
        }
        var a = Assembler()
        let full = snapLength
        if linkType == .ethernet {
            a.load(.half, absolute: 12)
            a.jumpIfEqual(0x0800, to: "v4")
            a.jumpIfEqual(0x86dd, to: "v6")
            a.returnValue(full)
        } else {
            a.load(.byte, absolute: network)
            a.emit(code: Op.alu | Op.rightShift | Op.constant, value: 4)
            a.jumpIfEqual(4, to: "v4")
            a.jumpIfEqual(6, to: "v6")
            a.returnValue(full)
        }

        a.label("v4")
        a.load(.half, absolute: network + 6)
        a.jumpIfAnyBit(0x3fff, to: "full")  // a fragment: its datagram's headers are in the first one
        a.load(.half, absolute: network + 2)
        a.store(slot: 0)  // the datagram's length: what is past the headers is payload
        a.load(.byte, absolute: network + 9)
        a.jumpIfEqual(6, to: "v4tcp")
        a.jumpIfEqual(17, to: "v4udp")
        a.returnValue(full)
        a.label("v4tcp")
        a.loadIndexFromIPv4HeaderLength(at: network)
        a.jump(to: "tcp")
        a.label("v4udp")
        a.loadIndexFromIPv4HeaderLength(at: network)
        a.jump(to: "udp")

        a.label("v6")
        a.load(.half, absolute: network + 4)
        a.emit(code: Op.alu | Op.add | Op.constant, value: 40)
        a.store(slot: 0)
        a.load(.byte, absolute: network + 6)
        a.jumpIfEqual(6, to: "v6tcp")
        a.jumpIfEqual(17, to: "v6udp")
        a.returnValue(full)
        a.label("v6tcp")
        a.emit(code: Op.loadIndex | Op.immediate, value: 40)
        a.jump(to: "tcp")
        a.label("v6udp")
        a.emit(code: Op.loadIndex | Op.immediate, value: 40)
        a.jump(to: "udp")

        // TCP, with X the IP header's length.
        a.label("tcp")
        a.load(.half, indexed: network)
        a.jumpIfEqual(53, to: "full")
        a.load(.half, indexed: network + 2)
        a.jumpIfEqual(53, to: "full")
        a.jumpIfEqual(443, to: "full")
        a.jumpIfEqual(8443, to: "full")
        a.load(.byte, indexed: network + 13)
        a.jumpIfAnyBit(0x07, to: "full")  // FIN, SYN or RST
        a.load(.byte, indexed: network + 12)
        a.emit(code: Op.alu | Op.and | Op.constant, value: 0xf0)
        a.emit(code: Op.alu | Op.rightShift | Op.constant, value: 2)
        a.emit(code: Op.alu | Op.add | Op.index)
        a.emit(code: Op.misc | Op.accumulatorToIndex)  // X: the IP and TCP headers' length
        a.load(slot: 0)
        a.jumpIfGreaterThanIndex(to: "tcpPayload")  // no payload, or a datagram shorter than its headers
        a.jump(to: "headers")
        a.label("tcpPayload")
        a.emit(code: Op.alu | Op.subtract | Op.index)  // A: the payload's length
        a.jumpIfGreaterOrEqual(4, to: "tcpWord")
        a.jump(to: "tcpByte")
        a.label("tcpWord")
        a.load(.word, indexed: network)
        for method in ["GET ", "POST", "HEAD", "PUT ", "DELE", "OPTI", "PATC", "CONN"] {
            a.jumpIfEqual(method.utf8.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, to: "full")
        }
        a.label("tcpByte")
        a.load(.byte, indexed: network)
        a.jumpIfEqual(0x16, to: "full")  // a TLS handshake record
        a.jump(to: "headers")

        // UDP, with X the IP header's length.
        a.label("udp")
        a.load(.half, indexed: network)
        for port: UInt32 in [53, 5353, 5355] { a.jumpIfEqual(port, to: "full") }
        a.load(.half, indexed: network + 2)
        for port: UInt32 in [53, 5353, 5355] { a.jumpIfEqual(port, to: "full") }
        a.emit(code: Op.misc | Op.indexToAccumulator)
        a.emit(code: Op.alu | Op.add | Op.constant, value: 8)
        a.emit(code: Op.misc | Op.accumulatorToIndex)  // X: the IP and UDP headers' length
        a.load(slot: 0)
        a.jumpIfGreaterThanIndex(to: "udpPayload")
        a.jump(to: "headers")
        a.label("udpPayload")
        a.load(.byte, indexed: network)
        a.emit(code: Op.alu | Op.and | Op.constant, value: 0xc0)
        a.jumpIfEqual(0xc0, to: "full")  // a QUIC long header (Initial, Handshake)
        a.jump(to: "headers")

        a.label("headers")
        a.emit(code: Op.misc | Op.indexToAccumulator)
        a.emit(code: Op.alu | Op.add | Op.constant, value: network)
        a.emit(code: Op.ret | Op.accumulator)
        a.label("full")
        a.returnValue(full)
        return a.resolved()
    }
}

/// Classic BPF opcode parts (`linux/filter.h`).
enum Op {
    static let load: UInt16 = 0x00, loadIndex: UInt16 = 0x01, alu: UInt16 = 0x04, jump: UInt16 = 0x05
    static let ret: UInt16 = 0x06, misc: UInt16 = 0x07, store: UInt16 = 0x02
    static let word: UInt16 = 0x00, half: UInt16 = 0x08, byte: UInt16 = 0x10
    static let immediate: UInt16 = 0x00, absolute: UInt16 = 0x20, indexed: UInt16 = 0x40, memory: UInt16 = 0x60
    static let ipv4HeaderLength: UInt16 = 0xa0
    static let add: UInt16 = 0x00, subtract: UInt16 = 0x10, and: UInt16 = 0x50, rightShift: UInt16 = 0x70
    static let always: UInt16 = 0x00, equal: UInt16 = 0x10, greater: UInt16 = 0x20, greaterOrEqual: UInt16 = 0x30, anyBit: UInt16 = 0x40
    static let constant: UInt16 = 0x00, index: UInt16 = 0x08, accumulator: UInt16 = 0x10
    static let accumulatorToIndex: UInt16 = 0x00, indexToAccumulator: UInt16 = 0x80
}

/// Builds a program with named forward jumps.
struct Assembler {
    enum Size { case word, half, byte }
    private var program: [FilterInstruction] = []
    private var labels: [String: Int] = [:]
    /// Instructions whose true (or sole) target is a label, and whether it is an unconditional jump.
    private var pending: [(position: Int, label: String, always: Bool)] = []

    mutating func emit(code: UInt16, value: UInt32 = 0) {
        program.append(FilterInstruction(code: code, value: value))
    }

    mutating func label(_ name: String) { labels[name] = program.count }

    mutating func load(_ size: Size, absolute offset: UInt32) {
        emit(code: Op.load | Self.code(size) | Op.absolute, value: offset)
    }

    mutating func load(_ size: Size, indexed offset: UInt32) {
        emit(code: Op.load | Self.code(size) | Op.indexed, value: offset)
    }

    mutating func load(slot: UInt32) { emit(code: Op.load | Op.memory, value: slot) }
    mutating func store(slot: UInt32) { emit(code: Op.store, value: slot) }
    mutating func returnValue(_ value: UInt32) { emit(code: Op.ret | Op.constant, value: value) }

    /// X = 4 × (the low nibble of the byte at `offset`): an IPv4 header's length.
    mutating func loadIndexFromIPv4HeaderLength(at offset: UInt32) {
        emit(code: Op.loadIndex | Op.byte | Op.ipv4HeaderLength, value: offset)
    }

    mutating func jump(to name: String) {
        pending.append((program.count, name, true))
        emit(code: Op.jump | Op.always)
    }

    mutating func jumpIfEqual(_ value: UInt32, to name: String) {
        pending.append((program.count, name, false))
        emit(code: Op.jump | Op.equal | Op.constant, value: value)
    }

    mutating func jumpIfGreaterOrEqual(_ value: UInt32, to name: String) {
        pending.append((program.count, name, false))
        emit(code: Op.jump | Op.greaterOrEqual | Op.constant, value: value)
    }

    /// Jumps when A > X.
    mutating func jumpIfGreaterThanIndex(to name: String) {
        pending.append((program.count, name, false))
        emit(code: Op.jump | Op.greater | Op.index)
    }

    mutating func jumpIfAnyBit(_ value: UInt32, to name: String) {
        pending.append((program.count, name, false))
        emit(code: Op.jump | Op.anyBit | Op.constant, value: value)
    }

    /// The program with every jump aimed (conditional jumps fall through when false). Nil when a
    /// label is missing or a conditional jump is out of its 8-bit reach (a bug in the program).
    func resolved() -> [FilterInstruction]? {
        var out = program
        for (position, name, always) in pending {
            guard let target = labels[name], target > position else { return nil }
            let distance = target - position - 1
            if always {
                out[position].value = UInt32(distance)
            } else {
                guard distance <= 255 else { return nil }
                out[position].jumpTrue = UInt8(distance)
            }
        }
        return out
    }

    private static func code(_ size: Size) -> UInt16 {
        switch size {
        case .word: Op.word
        case .half: Op.half
        case .byte: Op.byte
        }
    }
}

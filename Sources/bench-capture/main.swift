// Writes a large, realistic capture for the replay benchmark: thousands of interleaved TCP
#if canImport(Glibc)
import Glibc
#endif
// connections (handshake, data both ways, close), DNS-like and bulk UDP, pings, a fifth over IPv6,
// and sizes from bare ACKs to full 1500-byte segments. Deterministic for a given seed.
//
// Usage: bench-capture OUTPUT.pcap [PACKETS] [SEED] [SNAPLEN]
// SNAPLEN cuts each frame as a headers-only capture would (the wire length stays whole).
import Capture
import Flows
import PacketParsing
import TestSupport

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
}

/// One simulated conversation: the frames it still has to send, produced lazily.
struct Conversation {
    enum Kind { case tcp, udpQuery, udpBulk, ping }
    let kind: Kind
    let client: FrameBuilder.IPHeader
    let clientPort: UInt16
    let serverPort: UInt16
    var remaining: Int
    var step = 0
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: bench-capture OUTPUT.pcap [PACKETS] [SEED] [SNAPLEN]")
    exit(2)
}
let output = arguments[1]
let target = arguments.count > 2 ? Int(arguments[2]) ?? 2_200_000 : 2_200_000
var random = SplitMix64(seed: arguments.count > 3 ? UInt64(arguments[3]) ?? 7 : 7)
let payloads: [[UInt8]] = (0...1460).map { [UInt8](repeating: UInt8($0 & 0xff), count: $0) }

@MainActor func address(_ v6: Bool, client: Bool, _ n: Int) -> IPAddress {
    if v6 {
        return client ? IPAddress(v6High: 0xfd00_0000_0000_0001, low: UInt64(n)) : IPAddress(v6High: 0x2001_0db8_0000_0000, low: UInt64(n))
    }
    return client ? IPAddress(v4: 0x0a00_0000 | UInt32(n & 0xffff)) : IPAddress(v4: 0xc612_0000 | UInt32(n & 0xffff))
}

@MainActor func newConversation(_ index: Int) -> Conversation {
    let v6 = random.below(5) == 0
    let ip: FrameBuilder.IPHeader = v6
        ? .v6(from: address(true, client: true, index % 200), to: address(true, client: false, random.below(3000)))
        : .v4(from: address(false, client: true, index % 200), to: address(false, client: false, random.below(3000)))
    let roll = random.below(100)
    let kind: Conversation.Kind = roll < 70 ? .tcp : roll < 88 ? .udpQuery : roll < 97 ? .udpBulk : .ping
    let length: Int
    switch kind {
    case .tcp: length = 7 + random.below(random.below(10) == 0 ? 4000 : 300)
    case .udpQuery: length = 2
    case .udpBulk: length = 20 + random.below(800)
    case .ping: length = 2 * (1 + random.below(20))
    }
    let serverPorts: [UInt16] = [443, 80, 8080, 22, 993, 5222]
    return Conversation(
        kind: kind, client: ip, clientPort: UInt16(1024 + random.below(60000)),
        serverPort: kind == .udpQuery ? 53 : kind == .udpBulk ? 443 : serverPorts[random.below(serverPorts.count)],
        remaining: length)
}

/// The next frame of a conversation; `fromClient` says who sends it.
@MainActor func nextFrame(_ c: inout Conversation) -> [UInt8] {
    defer { c.step += 1; c.remaining -= 1 }
    let toServer = c.client, toClient = c.client.reversed
    switch c.kind {
    case .tcp:
        let last = c.remaining
        let flags: FrameBuilder.TCPFlags
        var fromClient = true
        var size = 0
        switch c.step {
        case 0: flags = .syn
        case 1: flags = .synAck; fromClient = false
        case 2: flags = .ack
        default:
            if last <= 4 {
                // FIN, ACK, FIN, ACK.
                fromClient = last % 2 == 0
                flags = last >= 3 ? .finAck : .ack
            } else {
                fromClient = random.below(3) == 0
                let bare = random.below(4) == 0
                flags = bare ? .ack : .pshAck
                size = bare ? 0 : (random.below(3) == 0 ? 1448 : random.below(1200))
            }
        }
        let transport = FrameBuilder.Transport.tcp(
            sourcePort: fromClient ? c.clientPort : c.serverPort, destinationPort: fromClient ? c.serverPort : c.clientPort,
            flags: flags, payload: payloads[size], sequence: UInt32(truncatingIfNeeded: c.step * 1000))
        return FrameBuilder.frame(link: .ethernet(), ip: fromClient ? toServer : toClient, transport: transport)
    case .udpQuery, .udpBulk:
        let fromClient = c.kind == .udpQuery ? c.step == 0 : random.below(2) == 0
        let size = c.kind == .udpQuery ? (fromClient ? 30 + random.below(30) : 60 + random.below(400)) : 1200 + random.below(150)
        let transport = FrameBuilder.Transport.udp(
            sourcePort: fromClient ? c.clientPort : c.serverPort, destinationPort: fromClient ? c.serverPort : c.clientPort,
            payload: payloads[size])
        return FrameBuilder.frame(link: .ethernet(), ip: fromClient ? toServer : toClient, transport: transport)
    case .ping:
        let reply = c.step % 2 == 1
        let transport = FrameBuilder.Transport.echo(
            reply: reply, identifier: c.clientPort, sequence: UInt16(truncatingIfNeeded: c.step / 2), payload: payloads[56])
        return FrameBuilder.frame(link: .ethernet(), ip: reply ? toClient : toServer, transport: transport)
    }
}

do {
    let snapLength = arguments.count > 4 ? UInt32(arguments[4]) ?? 65535 : 65535
    let writer = try CaptureFileWriter(path: output, linkType: .ethernet, format: .pcap(nanoseconds: false), snapLength: snapLength)
    var active: [Conversation] = []
    var started = 0
    var written = 0
    var time: Int64 = 1_764_000_000 * 1_000_000_000
    while written < target {
        while active.count < 3000 {
            active.append(newConversation(started))
            started += 1
        }
        let pick = random.below(active.count)
        let frame = nextFrame(&active[pick])
        if active[pick].remaining <= 0 { active.swapAt(pick, active.count - 1); active.removeLast() }
        time += Int64(1000 + random.below(20_000))
        try writer.write(frame, timestamp: time)
        written += 1
    }
    try writer.close()
    print("wrote \(written) packets in \(started) conversations to \(output)")
} catch {
    print("bench-capture: \(error)")
    exit(1)
}

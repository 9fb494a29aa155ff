import Testing
import PacketParsing
@testable import Flows

@Suite struct FlowIndexTests {
    /// Random starts and ends against a plain dictionary: every flow is found where it is, and no
    /// ended flow is found, through growth and backward-shift deletion (a tiny seed-fixed table).
    @Test func findsEveryOpenFlowThroughInsertsRemovalsAndGrowth() {
        var table = FlowTable(timeouts: FlowTimeouts(), capacity: 1_000_000, uidSeed: 1)
        var random = SplitMix64(seed: 42)
        func next() -> UInt64 { random.next() }
        var open: Set<FlowKey> = []
        for step in 0..<20_000 {
            var p = PacketSummary()
            p.source = IPAddress(v4: 0x0a00_0000 | UInt32(next() % 64))
            p.destination = IPAddress(v4: 0xc612_0000 | UInt32(next() % 64))
            p.ipProtocol = IPProtocolNumber.udp
            p.sourcePort = UInt16(next() % 40)
            p.destinationPort = 53
            p.ipLength = 60
            p.timestamp = Int64(step)
            table.ingest(p)
            open.insert(FlowKey.of(p).key)
            if step % 7 == 0, let victim = open.randomElement() {
                let position = table.index.find(victim, in: table.records)
                #expect(position != nil)
                if let position {
                    table.remove(positions: [Int(position)])
                    open.remove(victim)
                    #expect(table.index.find(victim, in: table.records) == nil)
                }
            }
        }
        #expect(table.count == open.count)
        #expect(table.index.count == open.count)
        for key in open {
            let position = table.index.find(key, in: table.records)
            #expect(position.map { table.records[Int($0)].key } == key)
        }
    }
}

/// The sizes that 100,000 open flows multiply.
@Suite struct FlowRecordSizeTests {
    @Test func aKeyIs48BytesAndARecord160() {
        #expect(MemoryLayout<FlowKey>.stride == 48)
        #expect(MemoryLayout<FlowRecord>.stride <= 160)
        // What a packet changes lies in the record's first two cache lines.
        #expect(MemoryLayout<FlowRecord>.offset(of: \.responderTCP)! < 128)
    }

    @Test(arguments: [
        (IPAddress(v4: 0x0a00_0001), IPAddress(v4: 0xc612_0002)),
        (IPAddress(v6High: 0x2001_0db8_0000_0000, low: 1), IPAddress(v6High: 0xfe80_0000_0000_0000, low: 0xffff_ffff_ffff_ffff)),
        (IPAddress(v4: 0), IPAddress(v6High: 0, low: 0)),
    ])
    func theKeyGivesBackItsAddressesWithTheirFamilies(_ a: IPAddress, _ b: IPAddress) {
        var p = PacketSummary()
        p.source = a
        p.destination = b
        p.ipProtocol = IPProtocolNumber.tcp
        p.sourcePort = 40000
        p.destinationPort = 443
        let (key, fromLow) = FlowKey.of(p)
        #expect(Set([key.lowAddress, key.highAddress]) == Set([a, b]))
        #expect((fromLow ? key.lowAddress : key.highAddress) == a)
        // The IPv4 0.0.0.0 and the IPv6 :: are different addresses, in different keys.
        if a.family != b.family { #expect(key.lowAddress.family != key.highAddress.family) }
    }
}

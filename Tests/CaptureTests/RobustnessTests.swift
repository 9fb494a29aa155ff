import Flows
import Monitor
import PacketParsing
import Testing
import TestSupport

/// Hundreds of thousands of random and mutated frames through the pipeline: it must never trap, its
/// counters must add up, and the flow table must stay within its capacity.
@Suite struct RobustnessTests {
    /// Valid frames of every protocol, to mutate.
    static func seeds(_ link: FrameBuilder.Link, _ rng: inout SplitMix64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        let v4 = FrameBuilder.IPv4(source: "10.0.0.1", destination: "198.18.0.2")
        var v4opts = v4
        v4opts.options = [0x94, 4, 0, 0]
        let v6 = FrameBuilder.IPv6(source: "fd00::1", destination: "2001:db8::2", extensionHeaders: [.hopByHop(), .routing(addresses: ["fd00::9"]), .destinationOptions()])
        let transports: [FrameBuilder.Transport] = [
            .tcp(sourcePort: 40000, destinationPort: 443, flags: .syn, options: [2, 4, 5, 0xb4]),
            .tcp(sourcePort: 40000, destinationPort: 443, flags: .pshAck, payload: Array(repeating: 0x42, count: 64)),
            .udp(sourcePort: 5353, destinationPort: 53, payload: Array(repeating: 1, count: 40)),
            .echo(identifier: 77, payload: Array(repeating: 0, count: 32)),
            .icmp(type: 3, code: 1, rest: Array(repeating: 0, count: 32)),
            .sctp(sourcePort: 1, destinationPort: 2, chunks: FrameBuilder.sctpDataChunk([1, 2, 3])),
            .other(protocolNumber: 47, payload: [0, 0, 8, 0]),
        ]
        for transport in transports {
            out.append(link.wrap(FrameBuilder.IPHeader.v4(v4).packet(transport)))
            out.append(link.wrap(FrameBuilder.IPHeader.v4(v4opts).packet(transport)))
            out.append(link.wrap(FrameBuilder.IPHeader.v6(v6).packet(transport)))
        }
        for fragment in FrameBuilder.ipv4Fragments(v4, transport: transports[2], fragmentPayload: 16) { out.append(link.wrap(fragment)) }
        for fragment in FrameBuilder.ipv6Fragments(v6, transport: transports[1], fragmentPayload: 24) { out.append(link.wrap(fragment)) }
        out.append(link.wrap(Array(repeating: 0, count: 28), etherType: 0x0806))
        return out
    }

    /// One mutation of a valid frame: bit flips, a cut, a lying length field, random bytes, or extra bytes.
    static func mutate(_ frame: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var f = frame
        switch rng.next() % 6 {
        case 0:
            for _ in 0..<(1 + rng.next() % 4) where !f.isEmpty {
                let i = Int(rng.next() % UInt64(f.count))
                f[i] ^= UInt8(1) << UInt8(rng.next() % 8)
            }
        case 1:
            f = Array(f.prefix(Int(rng.next() % UInt64(f.count + 1))))
        case 2:
            // Overwrite a 16-bit field at a header-ish offset: lengths, ports, types lie.
            if f.count >= 2 {
                let i = Int(rng.next() % UInt64(min(f.count - 1, 80)))
                let value = UInt16(truncatingIfNeeded: rng.next())
                f[i] = UInt8(value >> 8); f[i + 1] = UInt8(value & 0xff)
            }
        case 3:
            f = (0..<Int(rng.next() % 128)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 4:
            f += (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        default:
            if !f.isEmpty {
                let i = Int(rng.next() % UInt64(f.count))
                f[i] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return f
    }

    @Test func randomAndMutatedFramesNeverTrapAndTheCountersAddUp() {
        let capacity = 64
        var pipeline = FlowPipeline(table: FlowTable(capacity: capacity, uidSeed: 1))
        var rng = SplitMix64(seed: 0x5eed)
        let perLink = 30_000  // 11 link types: 330,000 frames
        var time: Int64 = 1_700_000_000_000_000_000
        var maxCount = 0
        var endedTotal = 0
        let links = FrameBuilder.Link.all + [.linuxCooked(packetType: 4), .loop(inet6Family: 30)]
        let linkTypes = links.map(\.linkType) + [.ipv4, .ipv6, .unsupported(147)]
        for (index, linkType) in linkTypes.enumerated() {
            let seeds = index < links.count ? Self.seeds(links[index], &rng) : Self.seeds(.raw, &rng)
            for n in 0..<perLink {
                let base = seeds[Int(rng.next() % UInt64(seeds.count))]
                let frame = n % 10 == 0 ? base : Self.mutate(base, &rng)
                // Now and then the wire length claims more than was captured, as a snap length does.
                let wire = rng.next() % 8 == 0 ? frame.count + Int(rng.next() % 2000) : frame.count
                time += Int64(rng.next() % 50_000_000)
                frame.withUnsafeBytes { bytes in
                    pipeline.process(bytes, wireLength: wire, timestamp: time, linkType: linkType)
                }
                maxCount = max(maxCount, pipeline.table.count)
                if pipeline.table.ended.count > 1000 {
                    endedTotal += pipeline.table.ended.count
                    pipeline.table.ended.removeAll(keepingCapacity: true)
                }
                pipeline.table.updated.removeAll(keepingCapacity: true)
            }
        }
        pipeline.table.endAll()
        endedTotal += pipeline.table.ended.count
        let c = pipeline.counters
        #expect(c.frames == Int64(perLink * linkTypes.count))
        #expect(c.frames >= 300_000)
        #expect(c.frames == c.ipPackets + c.copies + c.notIP + c.damaged + c.unsupportedLinkType)
        #expect(c.unsupportedLinkType == Int64(perLink))
        #expect(c.ipPackets > 0 && c.damaged > 0 && c.notIP > 0)
        #expect(pipeline.table.counters.packets == c.ipPackets + c.copies)
        #expect(pipeline.table.counters.copies == c.copies)
        #expect(maxCount <= capacity)
        #expect(pipeline.table.counters.flowsEvicted > 0)
        #expect(Int64(endedTotal) == pipeline.table.counters.flowsStarted)
        #expect(pipeline.table.counters.flowsEnded == pipeline.table.counters.flowsStarted)
    }
}

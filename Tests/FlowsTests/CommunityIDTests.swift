import Flows
import PacketParsing
import Testing
import TestSupport

/// Vectors computed with the Community ID reference implementation (PyPI `communityid` 1.5, the spec's
/// own Python package); the first is the spec's README example.
@Suite struct CommunityIDTests {
    struct Vector: Sendable, CustomStringConvertible {
        var proto: UInt8, source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16
        var seed: UInt16 = 0
        var expected: String
        var description: String { "\(proto) \(source):\(sourcePort) → \(destination):\(destinationPort) seed \(seed)" }
    }

    static let vectors: [Vector] = [
        Vector(proto: 6, source: "128.232.110.120", destination: "66.35.250.204", sourcePort: 34855, destinationPort: 80, expected: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        Vector(proto: 6, source: "66.35.250.204", destination: "128.232.110.120", sourcePort: 80, destinationPort: 34855, expected: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        Vector(proto: 6, source: "128.232.110.120", destination: "66.35.250.204", sourcePort: 34855, destinationPort: 80, seed: 1, expected: "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
        Vector(proto: 17, source: "192.168.1.52", destination: "8.8.8.8", sourcePort: 54585, destinationPort: 53, expected: "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        Vector(proto: 17, source: "fe80::2", destination: "ff02::1:3", sourcePort: 5353, destinationPort: 5355, expected: "1:f92rcBLZLn1OdBdLfo/2CuiuiKM="),
        Vector(proto: 6, source: "2001:db8::1", destination: "2001:db8::2", sourcePort: 40000, destinationPort: 443, expected: "1:RYG3Msb11GthNt1OYXJouPzmrvA="),
        Vector(proto: 1, source: "192.168.0.89", destination: "192.168.0.1", sourcePort: 8, destinationPort: 0, expected: "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        Vector(proto: 1, source: "192.168.0.1", destination: "192.168.0.89", sourcePort: 0, destinationPort: 0, expected: "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        Vector(proto: 1, source: "192.168.0.1", destination: "192.168.0.89", sourcePort: 3, destinationPort: 1, expected: "1:o3zT92uTgnRWv/YrDVeXcWumpC4="),
        Vector(proto: 58, source: "fe80::200:86ff:fe05:80da", destination: "fe80::260:97ff:fe07:69ea", sourcePort: 128, destinationPort: 0, expected: "1:QrVnZEjGihSsEkRF1XxqheQ1Za8="),
        Vector(proto: 58, source: "fd00::1", destination: "fd00::2", sourcePort: 139, destinationPort: 0, expected: "1:p4LPIr+bLIT9amE0x4xRHdjxKKQ="),
        Vector(proto: 58, source: "fd00::2", destination: "fd00::1", sourcePort: 140, destinationPort: 0, expected: "1:p4LPIr+bLIT9amE0x4xRHdjxKKQ="),
        Vector(proto: 132, source: "192.168.170.8", destination: "192.168.170.56", sourcePort: 7, destinationPort: 80, expected: "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ="),
        Vector(proto: 47, source: "10.0.0.1", destination: "10.0.0.2", sourcePort: 0, destinationPort: 0, expected: "1:+KlEHDT0vJgzs/eNmzHq0aSpRYw="),
        Vector(proto: 6, source: "127.0.0.1", destination: "127.0.0.1", sourcePort: 50000, destinationPort: 8080, expected: "1:bwaxBSrjQiL/QKPJx556VoDZ60U="),
        Vector(proto: 6, source: "127.0.0.1", destination: "127.0.0.1", sourcePort: 8080, destinationPort: 50000, expected: "1:bwaxBSrjQiL/QKPJx556VoDZ60U="),
    ]

    @Test(arguments: vectors)
    func theHashMatchesTheReferenceImplementation(_ v: Vector) {
        let id = CommunityID.compute(
            ipProtocol: v.proto, source: v.source, destination: v.destination, sourcePort: v.sourcePort,
            destinationPort: v.destinationPort, seed: v.seed)
        #expect(id == v.expected)
    }

    @Test func aTCPFlowHasTheCommunityIDOfItsPackets() throws {
        var feeder = FlowFeeder()
        let ip = FrameBuilder.IPHeader.v4(from: "128.232.110.120", to: "66.35.250.204")
        try feeder.send(ip, .tcp(sourcePort: 34855, destinationPort: 80, flags: .syn))
        let r = try #require(feeder.finish().first)
        #expect(CommunityID.of(r) == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=")
    }

    @Test func aPingFlowHasTheSameCommunityIDWhicheverHalfWasSeenFirst() throws {
        var requestFirst = FlowFeeder()
        try requestFirst.send(.v4(from: "192.168.0.89", to: "192.168.0.1"), .echo(identifier: 1))
        var replyFirst = FlowFeeder()
        try replyFirst.send(.v4(from: "192.168.0.1", to: "192.168.0.89"), .echo(reply: true, identifier: 1))
        let a = try #require(requestFirst.finish().first), b = try #require(replyFirst.finish().first)
        #expect(CommunityID.of(a) == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=")
        #expect(CommunityID.of(b) == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=")
    }
}

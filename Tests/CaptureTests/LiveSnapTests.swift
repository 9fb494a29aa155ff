import Capture
import Foundation
import PacketParsing
import Testing
import TestSupport

/// The kernel itself cuts bulk packets to their headers (the socket filter's return value), while
/// the handshake arrives whole and every packet still carries its wire length.
@Suite(.serialized) struct LiveSnapTests {
    @Test(.enabled(if: getuid() == 0, "needs root: a live capture"))
    func theKernelCutsBulkSegmentsOnLoopbackAndKeepsTheHandshakeWhole() throws {
        var options = PcapHandle.LiveOptions()
        options.immediate = false
        let handle = try PcapHandle.openLive("lo", options: options)
        #expect(handle.linkType == .ethernet)
        // A server and a client in one process on a port of its own: 2 MB one way.
        let script = """
            import socket, threading, sys
            srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
            print(srv.getsockname()[1], flush=True)
            def serve():
                c, _ = srv.accept()
                while c.recv(1 << 16): pass
            t = threading.Thread(target=serve); t.start()
            cl = socket.create_connection(('127.0.0.1', srv.getsockname()[1])); cl.sendall(b'z' * 2000000); cl.close(); t.join()
            """
        let result = try TestProcess.runCombined(["python3", "-c", script])
        #expect(result.status == 0, "\(result.output)")
        let port = try #require(UInt16(result.output.split(separator: "\n").first ?? ""))
        var cut = 0, whole = 0, payloadBytes = 0
        // The stream's extent by sequence numbers: a segment retransmitted on a busy machine counts
        // again in the bytes (as on the wire) but not here.
        var firstSequence: UInt32?, furthest: UInt32 = 0
        // A segment seen again with the same IP identification is the capture's duplicate (wrong);
        // with another, the sender's retransmission (counted, as on the wire).
        var seen: [UInt32: UInt16] = [:], duplicates = 0, resent = 0
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            _ = try handle.dispatch(limit: 10_000) { frame, wire, _ in
                // Ethernet, IPv4 without options, then the TCP ports.
                guard frame.count >= 38, frame[12] == 0x08, frame[13] == 0x00, frame[23] == 6 else { return }
                let source = UInt16(frame[34]) << 8 | UInt16(frame[35]), destination = UInt16(frame[36]) << 8 | UInt16(frame[37])
                guard source == port || destination == port else { return }
                let decoded = try? PacketDecoder(linkType: .ethernet).decode(frame, wireLength: wire)
                let flags = frame.count > 47 ? frame[47] : 0
                if destination == port {
                    let length = decoded?.payloadLength ?? 0
                    payloadBytes += length
                    let sequence = UInt32(frame[38]) << 24 | UInt32(frame[39]) << 16 | UInt32(frame[40]) << 8 | UInt32(frame[41])
                    if flags & 0x02 != 0 { firstSequence = sequence &+ 1 }
                    if let first = firstSequence, length > 0 {
                        let identification = UInt16(frame[18]) << 8 | UInt16(frame[19])
                        if let earlier = seen[sequence] {
                            if earlier == identification { duplicates += 1 } else { resent += length }
                        }
                        seen[sequence] = identification
                        furthest = max(furthest, (sequence &+ UInt32(length)) &- first)
                    }
                }
                if flags & 0x07 != 0 {
                    // Whole up to the snap length (loopback segments reach 64 KiB; a FIN may carry data).
                    #expect(frame.count == min(wire, Int(options.snapLength)), "a handshake segment was cut: \(frame.count) of \(wire)")
                    whole += 1
                } else if wire > 1000 {
                    #expect(frame.count <= 14 + 20 + 60, "a bulk segment kept \(frame.count) of \(wire) bytes")
                    cut += 1
                }
            }
            if furthest >= 2_000_000 { break }
            usleep(20_000)
        }
        #expect(cut > 0 && whole >= 3, "cut \(cut), whole \(whole)")
        // Every payload byte is accounted for from the headers, though none was captured: the stream
        // reaches exactly its 2,000,000th byte, and the bytes counted are at least that many (more
        // when a segment was sent again).
        #expect(firstSequence != nil, "the SYN was not seen")
        #expect(furthest == 2_000_000, "the stream's extent: \(furthest) bytes")
        #expect(duplicates == 0, "\(duplicates) segments captured twice")
        #expect(payloadBytes == 2_000_000 + resent, "\(payloadBytes) payload bytes, \(resent) of them sent again")
    }
}

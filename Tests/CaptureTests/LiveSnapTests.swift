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
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            _ = try handle.dispatch(limit: 10_000) { frame, wire, _ in
                // Ethernet, IPv4 without options, then the TCP ports.
                guard frame.count >= 38, frame[12] == 0x08, frame[13] == 0x00, frame[23] == 6 else { return }
                let source = UInt16(frame[34]) << 8 | UInt16(frame[35]), destination = UInt16(frame[36]) << 8 | UInt16(frame[37])
                guard source == port || destination == port else { return }
                let decoded = try? PacketDecoder(linkType: .ethernet).decode(frame, wireLength: wire)
                if destination == port { payloadBytes += decoded?.payloadLength ?? 0 }
                let flags = frame.count > 47 ? frame[47] : 0
                if flags & 0x07 != 0 {
                    // Whole up to the snap length (loopback segments reach 64 KiB; a FIN may carry data).
                    #expect(frame.count == min(wire, Int(options.snapLength)), "a handshake segment was cut: \(frame.count) of \(wire)")
                    whole += 1
                } else if wire > 1000 {
                    #expect(frame.count <= 14 + 20 + 60, "a bulk segment kept \(frame.count) of \(wire) bytes")
                    cut += 1
                }
            }
            if payloadBytes >= 2_000_000 { break }
            usleep(20_000)
        }
        #expect(cut > 0 && whole >= 3, "cut \(cut), whole \(whole)")
        // Every payload byte is accounted for from the headers, though none was captured (a
        // retransmitted segment on a busy machine counts again, as on the wire).
        #expect(payloadBytes >= 2_000_000 && payloadBytes < 2_200_000, "\(payloadBytes) payload bytes")
    }
}

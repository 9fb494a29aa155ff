import Foundation
import Testing
import TestSupport

/// Real programs in the namespace lab, named by a live `telltale capture`.
@Suite(.serialized) struct NamesLabTests {
    static var canRun: Bool { getuid() == 0 && access("/usr/sbin/ip", X_OK) == 0 && access("/usr/bin/dig", X_OK) == 0 }

    struct Flow {
        var proto: String
        var localPort: Int
        var remotePort: Int
        var hostname: String?
        var nameSource: String?
    }

    func runLab() throws -> [Flow] {
        let telltale = try #require(BuiltExecutable.path("telltale"), "no built telltale binary")
        let script = BuiltExecutable.packageRoot.appendingPathComponent("scripts/lab/names-lab.py").path
        let lab = try TestProcess.run(["python3", script, telltale])
        #expect(lab.status == 0, "the lab script failed")
        var flows: [Flow] = []
        for line in lab.output.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            flows.append(Flow(
                proto: object["proto"] as? String ?? "", localPort: object["local_port"] as? Int ?? -1,
                remotePort: object["remote_port"] as? Int ?? -1,
                hostname: object["hostname"] as? String, nameSource: object["name_source"] as? String))
        }
        return flows
    }

    @Test(.enabled(if: canRun, "needs root, ip and dig to build the namespace lab"))
    func namesWhatDigCurlOpensslAndAQUICClientReached() throws {
        let flows = try runLab()
        func flow(_ proto: String, _ port: Int) -> Flow? { flows.first { $0.proto == proto && $0.remotePort == port } }
        // A client that connected to the address dig was given, with no name in its own bytes.
        #expect(flow("tcp", 9000)?.hostname == "raw.tt.test")
        #expect(flow("tcp", 9000)?.nameSource == "dns-global")
        #expect(flow("tcp", 8080)?.hostname == "plain.tt.test")
        #expect(flow("tcp", 8080)?.nameSource == "http-host")
        #expect(flow("tcp", 4433)?.hostname == "tls.tt.test")
        #expect(flow("tcp", 4433)?.nameSource == "sni")
        // Two programs resolved different names to the same address: each flow has its own program's name.
        let alpha = flows.first { $0.proto == "tcp" && $0.localPort == 41001 }
        let beta = flows.first { $0.proto == "tcp" && $0.localPort == 41002 }
        #expect(alpha?.hostname == "alpha.tt.test")
        #expect(alpha?.nameSource == "dns")
        #expect(beta?.hostname == "beta.tt.test")
        #expect(beta?.nameSource == "dns")
        let hasAioquic = (try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", "import aioquic"]))
            .map { $0.waitUntilExit(); return $0.terminationStatus == 0 } ?? false
        if hasAioquic {
            #expect(flow("udp", 4434)?.hostname == "quic.tt.test")
            #expect(flow("udp", 4434)?.nameSource == "quic-sni")
        }
    }
}

import Foundation
import Testing
import TestSupport

/// `run --evidence` on the live machine, checked by `telltale verify` and by tshark without Telltale.
@Suite(.serialized) struct EvidenceRunTests {
    static var toolsPresent: Bool {
        ["/usr/bin/curl"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
            && ((try? TestProcess.runCombined(["python3", "--version"]).status) == 0)
    }

    static var tshark: String? {
        ["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(.enabled(if: DaemonFixtures.isRoot && toolsPresent, "needs root (capture and process events), curl and python3"))
    func aRunsEvidenceVerifiesAndTsharkSeesTheSameConversation() throws {
        let scratch = try ScratchDirectory.make("evidence")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let freePort = try TestProcess.runCombined([
            "python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
        ])
        let port = try #require(Int(freePort.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let server = try TestProcess.Background(
            ["python3", "-u", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", scratch],
            directory: scratch, name: "server")
        defer { server.stop() }
        #expect(server.waitFor("Serving HTTP", seconds: 10), "\(server.error)")

        let bundle = scratch + "/bundle"
        let run = try TestProcess.runCombined([
            BuiltExecutable.telltale, "run", "--evidence", bundle, "--", "curl", "-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/",
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("telltale: evidence in \(bundle) (verify with: telltale verify \(bundle))"), "\(run.output)")

        let verify = try TestProcess.runCombined([BuiltExecutable.telltale, "verify", bundle])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("hashes: 6 files ok"), "\(verify.output)")
        #expect(verify.output.contains("re-derived from capture.pcapng with the same packets and bytes"), "\(verify.output)")

        // curl's conversation with the server, as the flows recorded it.
        let flows = TestProcess.contents(bundle + "/flows.ndjson").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let conversation = flows.filter {
            $0["proto"] as? String == "tcp" && ($0["remote_port"] as? Int == port || $0["local_port"] as? Int == port)
        }
        #expect(!conversation.isEmpty, "no flow to port \(port) in \(flows)")
        let packets = conversation.reduce(0) { $0 + ($1["packets_out"] as? Int ?? 0) + ($1["packets_in"] as? Int ?? 0) }
        #expect(packets >= 6)
        let curl = try #require(conversation.first { (($0["process"] as? [String: Any])?["exe"] as? String)?.hasSuffix("/curl") == true })
        let uid = try #require(curl["uid"] as? String)
        #expect(TestProcess.contents(bundle + "/processes.ndjson").contains("/curl\""))
        #expect(TestProcess.contents(bundle + "/audit.json").contains(uid))

        // Tampering with the bundle is seen: exit status 1, the file named.
        let changed = try TestProcess.runCombined(["/bin/sh", "-c", "echo >> '\(bundle)/audit.md'; '\(BuiltExecutable.telltale)' verify '\(bundle)'"])
        #expect(changed.status == 1, "\(changed.output)")
        #expect(changed.output.contains("audit.md: changed"), "\(changed.output)")
        let usage = try TestProcess.runCombined([BuiltExecutable.telltale, "verify", scratch + "/nowhere"])
        #expect(usage.status == 2, "\(usage.output)")

        // tshark, knowing nothing of Telltale, finds the same conversation with the same packets.
        guard let tshark = Self.tshark else {
            Issue.record("tshark is missing (scripts/setup.sh installs it): the cross-check did not run")
            return
        }
        let table = try TestProcess.runCombined([tshark, "-r", bundle + "/capture.pcapng", "-q", "-z", "conv,tcp"])
        #expect(table.status == 0, "\(table.output)")
        #expect(table.output.contains("127.0.0.1:\(port)"), "\(table.output)")
        let frames = try TestProcess.run([
            tshark, "-r", bundle + "/capture.pcapng", "-Y", "tcp.port == \(port)", "-T", "fields", "-e", "frame.number",
        ])
        #expect(frames.status == 0, "\(frames.error)")
        #expect(frames.output.split(separator: "\n").count == packets, "\(frames.output)")
    }
}

import Foundation
import Testing
import TestSupport

/// The seed corpora and every crash the fuzzers found, replayed through the ordinary build of the
/// fuzz harness: the corpus is a regression suite even where libFuzzer is not built.
@Suite("The fuzz corpus")
struct CorpusReplayTests {
    static let targets = [
        "packet", "dns", "clienthello", "quic", "http-host", "pcap", "gguf", "rules", "config", "http-request",
        "runtime-request", "prompt-body", "egress-content", "metrics-head", "evidence-bundle",
    ]

    @Test(arguments: targets)
    func everyInputOfTheCorpusParsesWithoutTrapping(target: String) throws {
        let directory = BuiltExecutable.packageRoot.appendingPathComponent("Fuzz/corpus/\(target)").path
        let inputs = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        #expect(!inputs.isEmpty, "no seeds in \(directory)")
        let outcome = try TestProcess.run([try BuiltExecutable.require("fuzz"), target, directory])
        #expect(outcome.status == 0, "\(outcome.reason) \(outcome.error)")
        #expect(outcome.output.contains("replayed \(inputs.filter { !$0.hasPrefix(".") }.count) inputs"))
    }

    @Test func refusesAnUnknownTarget() throws {
        let outcome = try TestProcess.run([try BuiltExecutable.require("fuzz"), "no-such-parser", "/dev/null"])
        #expect(outcome.status == 64)
    }
}

/// Entry points for the fuzzer: each runs untrusted bytes through the parsers the way the daemon
/// does and throws the result away. Returning is passing; a trap is a finding.
public enum ContentFuzz {
    private static let fingerprinter: Fingerprinter? = try? Fingerprinter(salt: [UInt8](repeating: 7, count: 16))

    /// First byte: segment length (1...256); the rest: one client stream fed in segments, with a
    /// gap wherever a segment starts with 0xFF.
    public static func requestStream(_ data: [UInt8]) {
        guard let first = data.first else { return }
        let segment = Int(first) + 1
        var stream = HTTPRequestStream(headerLimit: 4096, bodyLimit: 4096)
        var start = 1
        while start < data.count {
            let end = min(data.count, start + segment)
            if data[start] == 0xFF { stream.gap(end - start) }
            for request in stream.feed(data[start..<end]) {
                if let endpoint = RuntimeEndpoint(method: request.method, path: request.path) {
                    _ = try? PromptText.texts(endpoint: endpoint, body: request.body, contentEncoding: request.contentEncoding)
                }
            }
            start = end
        }
    }

    /// The bytes as a request body to each kind of endpoint.
    public static func promptText(_ data: [UInt8]) {
        for endpoint in [RuntimeEndpoint.chatCompletions, .responses, .ollamaGenerate, .llamaInfill] {
            _ = try? PromptText.texts(endpoint: endpoint, body: data)
        }
    }

    /// First half: a prompt recorded in a ledger (with a canary); second half: an egress stream fed
    /// in chunks whose lengths come from the first byte.
    public static func egress(_ data: [UInt8]) {
        guard let fingerprinter, let first = data.first else { return }
        let middle = data.count / 2
        var ledger = PromptLedger(fingerprinter: fingerprinter, configuration: .init(memoryBudget: 1 << 20, maximumWordsPerPrompt: 4096))
        let process = ProcessRef(pid: 1, startTime: 0, program: "fuzz")
        ledger.record(
            text: String(decoding: data[1..<max(1, middle)], as: UTF8.self), at: 0, requester: process, runtime: process,
            endpoint: .chatCompletions)
        var canaries = CanarySet(fingerprinter: fingerprinter)
        _ = canaries.insert(token: "ttcabcdefghijklmnopqrst", label: "fuzz")
        var stream = EgressStream()
        let chunk = Int(first % 64) + 1
        var start = max(1, middle)
        while start < data.count {
            let end = min(data.count, start + chunk)
            _ = stream.scan(data[start..<end], ledger: ledger, canaries: canaries)
            start = end
        }
        _ = stream.finish(ledger: ledger, canaries: canaries)
        ledger.expire(now: 1 << 62)
    }
}

import Foundation
public import Logging
import Posix
import ProcessAttribution
import Synchronization

/// TLS plaintext for content inspection: the uprobes on OpenSSL's `SSL_write` and `SSL_write_ex`,
/// attached to every file that carries them (the system libssl, node's own executable, a Python
/// wheel's vendored OpenSSL), and a thread that hands what they copy to the inspector.
///
/// Files are found by scanning what processes map: every process at the start, then each process
/// that appears (looked for once a second; a uprobe is per file, so a new process of a program
/// already attached is covered from its first write). Uprobes need CAP_SYS_ADMIN: without it, the
/// source does not start and says why in one line.
final class TLSPlaintextSource: Sendable {
    private let probes: TLSWriteProbes
    private let scanner = TLSLibraryScanner()
    private let inspector: ContentInspector
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let files = Mutex<Set<String>>([])

    /// Loads the probes and attaches them to what runs now; throws the reason they cannot be used.
    init(inspector: ContentInspector, logger: Logger) throws(TLSWriteProbes.LoadError) {
        probes = try TLSWriteProbes.load()
        self.inspector = inspector
        // The system's libssl first: most programs use it, and processes started from here on are
        // covered whatever the scan finds.
        for path in ["/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/aarch64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libssl.so.3"]
        where FileManager.default.fileExists(atPath: path) {
            attach(path, logger: logger)
        }
        var first = Set<Int32>()
        scan(&first, logger: logger)
        let initial = first
        let thread = Thread { [self] in
            var seen = initial
            var lastScan = SystemClock.monotonicNanoseconds()
            while !stopping.load(ordering: .acquiring) {
                forward(probes.poll(timeout: 20))
                let now = SystemClock.monotonicNanoseconds()
                if now - lastScan >= 1_000_000_000 {
                    scan(&seen, logger: logger)
                    lastScan = now
                }
            }
            forward(probes.poll(timeout: 0))
            finished.signal()
        }
        thread.name = "telltale-tls"
        thread.start()
    }

    /// Files attached, and writes the probes could not queue.
    var state: String {
        let count = files.withLock { $0.count }
        return "attached to \(count) file\(count == 1 ? "" : "s") (uprobes on SSL_write, SSL_write_ex); \(probes.dropped) writes dropped"
    }

    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
        probes.close()
    }

    private func attach(_ path: String, logger: Logger) {
        switch probes.attach(file: path) {
        case .attached(let count):
            files.withLock { _ = $0.insert(path) }
            logger.debug("TLS probes attached", metadata: ["file": "\(path)", "probes": "\(count)"])
        case .alreadyAttached, .noFunctions:
            break
        case .failed(let reason):
            logger.debug("TLS probes not attached", metadata: ["file": "\(path)", "reason": "\(reason)"])
        }
    }

    /// Attaches to the libraries of processes not seen before (and forgets processes gone).
    private func scan(_ seen: inout Set<Int32>, logger: Logger) {
        let pids = Set(ProcFileSystem().pids())
        for pid in pids.subtracting(seen) {
            for library in scanner.libraries(pid: pid) { attach(library.path, logger: logger) }
        }
        seen = pids
    }

    private func forward(_ writes: [TLSWrite]) {
        if !writes.isEmpty { inspector.inspect(writes) }
    }
}

import Foundation
import Glibc
import PacketParsing
import Posix
import Testing
@testable import ProcessAttribution

private let libssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
private let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
private let hasLibssl = FileManager.default.isReadableFile(atPath: libssl)
private let tlsNames = TLSLibraryScanner.functionNames

private func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A scratch directory removed when the test ends.
private final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "tls-probes-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Runs a command to its end (output discarded); its exit status, or nil when it could not start.
private func shell(_ command: String, timeout: Double = 60) -> Int32? {
    ChildProcess.run(["/bin/sh", "-c", command + " >/dev/null 2>&1"], input: "", timeout: timeout)
}

/// A reproducible byte generator (SplitMix64), so a failing fuzz case can be replayed.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_CE4E_5C9B
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// A program with a local (static, .symtab-only) `SSL_write`, as a vendored OpenSSL has: it waits for
/// its standard input to end, then calls SSL_write once with `fixtureLength` bytes and once with a
/// failing length. Built with the system C compiler; nil when there is none.
private let fixtureLength = 9_000
private let fixtureSource = """
    #include <fcntl.h>
    #include <stdio.h>
    #include <unistd.h>
    struct ssl { int fd; };
    static __attribute__((noinline, used)) int SSL_write(struct ssl *s, const void *buf, int num) {
        if (num < 0) return -1;
        return (int)write(s->fd, buf, (size_t)num);
    }
    int main(void) {
        static char buf[\(fixtureLength)];
        for (int i = 0; i < \(fixtureLength); i++) buf[i] = (char)(i * 13 + 1);
        struct ssl s = { open("/dev/null", O_WRONLY) };
        printf("READY\\n");
        fflush(stdout);
        while (getchar() != EOF) {}
        int a = SSL_write(&s, buf, \(fixtureLength));
        int b = SSL_write(&s, buf, -1);
        printf("DONE %d %d\\n", a, b);
        return 0;
    }
    """

private func buildFixture(in scratch: Scratch) -> String? {
    guard let compiler = ChildProcess.find("cc") ?? ChildProcess.find("gcc") else { return nil }
    let source = scratch.file("fixture.c")
    let binary = scratch.file("fixture")
    guard (try? fixtureSource.write(toFile: source, atomically: true, encoding: .utf8)) != nil,
        shell("\(compiler) -O0 -o \(binary) \(source)") == 0
    else { return nil }
    return binary
}

private let hasCompiler = ChildProcess.find("cc") != nil || ChildProcess.find("gcc") != nil
private let hasStrip = ChildProcess.find("strip") != nil

@Suite struct TLSWriteELFTests {
    @Test(.enabled(if: hasLibssl, "needs the system libssl.so.3 (Debian libssl3)"))
    func findsSSLWriteInTheSystemLibssl() throws {
        let found = try ELFFunctionFinder.definedFunctions(named: tlsNames, in: FileByteSource(path: libssl))
        #expect(found["SSL_write"]?.contains(.dynamic) == true)
        #expect(found["SSL_write_ex"]?.contains(.dynamic) == true)
    }

    @Test func findsNoSSLWriteInLibc() throws {
        let found = try ELFFunctionFinder.definedFunctions(named: tlsNames, in: FileByteSource(path: libc))
        #expect(found.isEmpty)
    }

    @Test(.enabled(if: hasLibssl, "needs the system libssl.so.3 (Debian libssl3)"))
    func throwsOnTruncatedCopies() throws {
        let whole = try fileBytes(libssl)
        // The section table sits at the end of the file: every cut loses part of it or more.
        for cut in [0, 3, 4, 63, 64, 1000, whole.count / 2, whole.count - 64 * 3, whole.count - 1] {
            #expect(throws: ELFError.self, "cut at \(cut)") {
                _ = try ELFFunctionFinder.definedFunctions(named: tlsNames, in: ELFBytes(Array(whole.prefix(cut))))
            }
        }
        #expect(throws: ELFError.notELF) {
            _ = try ELFFunctionFinder.definedFunctions(named: tlsNames, in: ELFBytes(Array(String(repeating: "not an ELF file, just text. ", count: 4).utf8)))
        }
    }

    @Test(.enabled(if: hasLibssl, "needs the system libssl.so.3 (Debian libssl3)"))
    func neverTrapsOnRandomOrDamagedFiles() throws {
        var random = SplitMix(state: 0x7115)
        // Random bytes, with and without a valid ELF64 identification in front.
        for round in 0..<300 {
            var bytes = (0..<(64 + Int(random.next() % 4096))).map { _ in random.byte() }
            if round % 2 == 0 { bytes.replaceSubrange(0..<6, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1]) }
            _ = try? ELFFunctionFinder.definedFunctions(named: tlsNames, in: ELFBytes(bytes))
        }
        // The real library with bytes flipped in its header and section table (every offset, size,
        // count and index the reader trusts lives there).
        let whole = try fileBytes(libssl)
        let sectionTable = Int(whole[0x28..<0x30].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var survived = 0
        for _ in 0..<300 {
            var damaged = whole
            for _ in 0..<(1 + random.next() % 8) {
                let inHeader = random.next() % 3 == 0
                let at = inHeader ? Int(random.next() % 64) : sectionTable + Int(random.next() % UInt64(whole.count - sectionTable))
                damaged[at] = random.byte()
            }
            if (try? ELFFunctionFinder.definedFunctions(named: tlsNames, in: ELFBytes(damaged))) != nil { survived += 1 }
        }
        // Some damage is harmless (a flipped byte in an unused field): the point is that none traps.
        #expect(survived >= 0)
    }

    @Test(.enabled(if: hasLibssl && hasStrip, "needs the system libssl.so.3 and `strip` (Debian binutils)"))
    func aStrippedLibraryKeepsItsDynamicSymbols() throws {
        let scratch = try Scratch()
        let copy = scratch.file("libssl-stripped.so")
        #expect(shell("cp \(libssl) \(copy) && strip --strip-all \(copy)") == 0)
        let found = try ELFFunctionFinder.definedFunctions(named: tlsNames, in: FileByteSource(path: copy))
        #expect(found["SSL_write"] == .dynamic)
        #expect(found["SSL_write_ex"] == .dynamic)
    }

    @Test(.enabled(if: hasCompiler && hasStrip, "needs a C compiler (cc or gcc) and `strip` (Debian binutils)"))
    func aLocalSymbolIsFoundUntilStripped() throws {
        let scratch = try Scratch()
        let fixture = try #require(buildFixture(in: scratch))
        let found = try ELFFunctionFinder.definedFunctions(named: tlsNames, in: FileByteSource(path: fixture))
        #expect(found == ["SSL_write": .full])

        let stripped = scratch.file("fixture-stripped")
        #expect(shell("cp \(fixture) \(stripped) && strip --strip-all \(stripped)") == 0)
        #expect(try ELFFunctionFinder.definedFunctions(named: tlsNames, in: FileByteSource(path: stripped)).isEmpty)

        let scanner = TLSLibraryScanner()
        #expect(scanner.functions(inFileAt: stripped).isEmpty)
        #expect(scanner.functions(inFileAt: fixture) == ["SSL_write": .full])
        #expect(scanner.functions(inFileAt: fixture) == ["SSL_write": .full])  // from the cache
        #expect(scanner.statistics == .init(filesRead: 2, filesWithFunctions: 1, filesWithout: 1, filesUnreadable: 0))
    }

    @Test func readsExecutableFileMappingsFromMaps() {
        let line = "7f1c2a400000-7f1c2a4a1000 r-xp 00022000 fd:01 1316130                    /usr/lib/x86_64-linux-gnu/libssl.so.3"
        let mapping = TLSLibraryScanner.parse(mapsLine: line[...])
        #expect(mapping?.path == "/usr/lib/x86_64-linux-gnu/libssl.so.3")
        #expect(mapping?.range == "7f1c2a400000-7f1c2a4a1000")
        #expect(mapping?.file.inode == 1_316_130)
        #expect(mapping?.deleted == false)

        let deleted = TLSLibraryScanner.parse(mapsLine: "1000-2000 r-xp 00000000 00:1a 42    /tmp/my lib.so (deleted)")
        #expect(deleted?.path == "/tmp/my lib.so")
        #expect(deleted?.deleted == true)

        #expect(TLSLibraryScanner.parse(mapsLine: "1000-2000 r--p 00000000 fd:01 42   /usr/lib/libssl.so.3") == nil)
        #expect(TLSLibraryScanner.parse(mapsLine: "1000-2000 r-xp 00000000 00:00 0    [vdso]") == nil)
        #expect(TLSLibraryScanner.parse(mapsLine: "1000-2000 rwxp 00000000 00:00 0") == nil)
        #expect(TLSLibraryScanner.parse(mapsLine: "garbage") == nil)
    }
}

// MARK: - Live: uprobes on real clients

/// A TLS server on loopback (`openssl s_server`) with a fresh self-signed certificate; it prints
/// nothing and answers nothing, and serves one connection after another.
private final class LoopbackTLSServer {
    let port: UInt16
    private let process: ChildProcess

    init(in scratch: Scratch) throws {
        let key = scratch.file("key.pem")
        let certificate = scratch.file("cert.pem")
        let made = shell(
            "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=lab.test -days 1 -keyout \(key) -out \(certificate)")
        try #require(made == 0, "openssl could not make a self-signed certificate")
        port = try freeLoopbackPort()
        // exec keeps the pid; its complaints about clients that hang up go to /dev/null.
        process = try ChildProcess(
            ["/bin/sh", "-c", "exec openssl s_server -accept 127.0.0.1:\(port) -cert \(certificate) -key \(key) -quiet 2>/dev/null"],
            input: .discard, output: .discard)
        // Ready when it accepts.
        let deadline = SystemClock.monotonicNanoseconds() + 10_000_000_000
        while SystemClock.monotonicNanoseconds() < deadline {
            if canConnect(port: port) { return }
            usleep(50_000)
        }
        throw SystemError("openssl s_server did not start listening", code: ETIMEDOUT)
    }

    deinit {
        kill(process.pid, SIGKILL)
        _ = process.wait()
    }
}

private func freeLoopbackPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw SystemError("socket") }
    defer { close(descriptor) }
    var address = sockaddr_in(
        sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
    }
    guard bound else { throw SystemError("bind") }
    return UInt16(bigEndian: address.sin_port)
}

private func canConnect(port: UInt16) -> Bool {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in(
        sin_family: sa_family_t(AF_INET), sin_port: port.bigEndian, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// The payload the clients send: 100,000 bytes nobody would type.
private let payload: [UInt8] = (0..<100_000).map { UInt8(($0 * 7 + 3) % 251) }

/// Writes of 1,000, 30,000 and 69,000 bytes (the last one past the copy bound) over TLS, after
/// printing "READY <local port>" and waiting for its standard input to end.
private let pythonClient = """
    import socket, ssl, sys
    payload = bytes((i * 7 + 3) % 251 for i in range(100000))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = context.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="lab.test")
    print("READY", connection.getsockname()[1], flush=True)
    sys.stdin.read()
    for start, end in ((0, 1000), (1000, 31000), (31000, 100000)):
        connection.sendall(payload[start:end])
    connection.close()
    print("DONE", flush=True)
    """

/// The chunks of each write, writes in time order: (total length, the chunks in offset order).
private func writesByCall(_ records: [TLSWrite]) -> [(total: UInt64, chunks: [TLSWrite])] {
    let grouped = Dictionary(grouping: records) { "\($0.thread)/\($0.time)" }
    return grouped.values
        .map { chunks in (total: chunks[0].totalLength, chunks: chunks.sorted { $0.offset < $1.offset }) }
        .sorted { $0.chunks[0].time < $1.chunks[0].time }
}

/// Polls until `enough` says so or 10 s pass.
private func collect(_ probes: TLSWriteProbes, pid: Int32, until enough: ([TLSWrite]) -> Bool) -> [TLSWrite] {
    var records: [TLSWrite] = []
    let deadline = SystemClock.monotonicNanoseconds() + 10_000_000_000
    while SystemClock.monotonicNanoseconds() < deadline {
        records += probes.poll(timeout: 50).filter { $0.pid == pid }
        if enough(records) { break }
    }
    return records
}

private func netnsInode() -> UInt64? {
    guard let link = ProcFileSystem.readLink(atPath: "/proc/self/ns/net"),
        let open = link.firstIndex(of: "["), let close = link.firstIndex(of: "]")
    else { return nil }
    return UInt64(link[link.index(after: open)..<close])
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: uprobes need CAP_SYS_ADMIN"))
struct TLSWriteProbesLiveTests {
    @Test(.enabled(if: hasLibssl, "needs the system libssl.so.3 (Debian libssl3)"))
    func copiesWhatPythonWritesThroughLibssl() throws {
        let scratch = try Scratch()
        let server = try LoopbackTLSServer(in: scratch)
        let probes = try TLSWriteProbes.load()
        defer { probes.close() }
        #expect(probes.attach(file: libssl) == .attached(probes: 4))
        #expect(probes.attach(file: "/proc/self/root" + libssl) == .alreadyAttached)
        #expect(probes.attach(file: libc) == .noFunctions)
        _ = probes.poll(timeout: 0)  // whatever other processes wrote before the test

        let client = try ChildProcess(["/usr/bin/python3", "-c", pythonClient, "\(server.port)"], input: .pipe, output: .pipe)
        defer { kill(client.pid, SIGKILL); _ = client.wait() }
        let ready = try #require(client.readLine(deadline: SystemClock.monotonicNanoseconds() + 20_000_000_000))
        let localPort = try #require(UInt16(ready.split(separator: " ").last ?? ""))

        // The scanner finds the same library in the client's maps, through its root.
        let libraries = TLSLibraryScanner().libraries(pid: client.pid)
        let found = try #require(libraries.first { $0.mappedPath == libssl })
        #expect(found.path == "/proc/\(client.pid)/root\(libssl)")
        #expect(found.functions["SSL_write_ex"]?.contains(.dynamic) == true)
        #expect(probes.attach(file: found.path) == .alreadyAttached)

        client.writeInput([], deadline: SystemClock.monotonicNanoseconds() + 1_000_000_000)
        #expect(client.readLine(deadline: SystemClock.monotonicNanoseconds() + 20_000_000_000) == "DONE")

        let copyLimit = Int(TLSWrite.copyLimit)
        let expectedCopied = 1000 + 30000 + copyLimit
        let records = collect(probes, pid: client.pid) { $0.reduce(0) { $0 + $1.bytes.count } >= expectedCopied }
        let writes = writesByCall(records)
        #expect(writes.map(\.total) == [1000, 30000, 69000])
        // Chunks of a write are contiguous from 0 and bounded; the last write is cut at the bound.
        var reassembled: [UInt8] = []
        var uncopied: UInt64 = 0
        for write in writes {
            var next: UInt64 = 0
            for chunk in write.chunks {
                #expect(chunk.offset == next)
                #expect(chunk.bytes.count <= TLSWrite.chunkLimit)
                #expect(!chunk.unreadable)
                #expect(chunk.extended)  // python calls SSL_write_ex
                next += UInt64(chunk.bytes.count)
                reassembled += chunk.bytes
            }
            #expect(next == min(write.total, TLSWrite.copyLimit))
            uncopied += write.chunks[0].uncopiedLength
        }
        #expect(writes.last?.chunks.count == TLSWrite.chunksPerWrite)
        #expect(uncopied == 69000 - TLSWrite.copyLimit)  // 4,872 bytes counted, not copied
        #expect(UInt64(reassembled.count) + uncopied == UInt64(payload.count))
        let expected = Array(payload[0..<(31000 + copyLimit)])
        let same = reassembled == expected  // compared, never printed: it is a plaintext stand-in
        #expect(same, "reassembled \(reassembled.count) bytes differ from the \(expected.count) expected")

        // One connection, and the socket it wrote to is the client's.
        #expect(Set(records.map(\.connection)).count == 1)
        let socket = try #require(records.first?.socket)
        #expect(records.allSatisfy { $0.socket == socket })
        #expect(socket.localPort == localPort)
        #expect(socket.remotePort == server.port)
        #expect(socket.remoteAddress == IPAddress(v4: 0x7F00_0001))
        #expect(socket.localAddress == IPAddress(v4: 0x7F00_0001))
        #expect(socket.ipProtocol == 6)
        #expect(socket.netns == netnsInode())
        #expect(probes.dropped == 0)
    }

    @Test(.enabled(if: hasLibssl && ChildProcess.find("curl") != nil, "needs curl and the system libssl.so.3"))
    func copiesTheBodyCurlPostsThroughSSLWrite() throws {
        let scratch = try Scratch()
        let server = try LoopbackTLSServer(in: scratch)
        let probes = try TLSWriteProbes.load()
        defer { probes.close() }
        #expect(probes.attach(file: libssl) == .attached(probes: 4))
        let body = Array(payload[0..<20_000])
        let bodyFile = scratch.file("body")
        try Data(body).write(to: URL(fileURLWithPath: bodyFile))
        _ = probes.poll(timeout: 0)

        // s_server never answers HTTP: curl sends its request and body, then gives up at --max-time.
        let curl = try ChildProcess(
            ["curl", "-k", "-s", "-o", "/dev/null", "--max-time", "2", "-H", "Expect:", "--data-binary", "@\(bodyFile)",
             "https://127.0.0.1:\(server.port)/"], input: .discard, output: .discard)
        _ = curl.wait(deadline: SystemClock.monotonicNanoseconds() + 20_000_000_000)

        let records = collect(probes, pid: curl.pid) { $0.reduce(0) { $0 + $1.bytes.count } >= body.count }
        #expect(!records.isEmpty)
        #expect(records.allSatisfy { !$0.extended })  // curl calls SSL_write
        let sent = writesByCall(records).flatMap { $0.chunks.flatMap(\.bytes) }
        let containsBody = sent.count >= body.count
            && (0...(sent.count - body.count)).contains { start in sent[start..<(start + body.count)].elementsEqual(body) }
        #expect(containsBody, "the \(body.count)-byte body is not in the \(sent.count) bytes curl wrote")
        #expect(records.allSatisfy { $0.socket?.remotePort == server.port })
    }

    @Test(.enabled(if: hasCompiler, "needs a C compiler (cc or gcc)"))
    func probesALocalSymbolAndCountsAFailedWrite() throws {
        let scratch = try Scratch()
        let fixture = try #require(buildFixture(in: scratch))
        let probes = try TLSWriteProbes.load()
        defer { probes.close() }
        // Only SSL_write: its entry and return probe.
        #expect(probes.attach(file: fixture) == .attached(probes: 2))
        let failedBefore = probes.failedWrites

        let program = try ChildProcess([fixture], input: .pipe, output: .pipe)
        defer { kill(program.pid, SIGKILL); _ = program.wait() }
        #expect(program.readLine(deadline: SystemClock.monotonicNanoseconds() + 10_000_000_000) == "READY")
        #expect(TLSLibraryScanner().libraries(pid: program.pid).map(\.functions) == [["SSL_write": .full]])
        program.writeInput([], deadline: SystemClock.monotonicNanoseconds() + 1_000_000_000)
        #expect(program.readLine(deadline: SystemClock.monotonicNanoseconds() + 10_000_000_000) == "DONE \(fixtureLength) -1")

        let records = collect(probes, pid: program.pid) { $0.reduce(0) { $0 + $1.bytes.count } >= fixtureLength }
        let expected = (0..<fixtureLength).map { UInt8(truncatingIfNeeded: $0 * 13 + 1) }
        let writes = writesByCall(records)
        #expect(writes.map(\.total) == [UInt64(fixtureLength)])  // the failed call emitted nothing
        let same = writes.flatMap { $0.chunks.flatMap(\.bytes) } == expected
        #expect(same)
        #expect(records.allSatisfy { $0.socket == nil })  // wrote to /dev/null: no socket
        #expect(probes.failedWrites - failedBefore >= 1)
    }
}

import Foundation
import Posix
import Testing

@Suite struct FileDescriptorTests {
    /// A pipe whose ends close when the test is done with them.
    final class Pipe {
        var read: Int32
        var write: Int32

        init() throws {
            var ends: [Int32] = [-1, -1]
            guard pipe(&ends) == 0 else { throw SystemError("pipe") }
            (read, write) = (ends[0], ends[1])
        }

        func closeWrite() {
            if write >= 0 { close(write) }
            write = -1
        }

        deinit {
            if read >= 0 { close(read) }
            closeWrite()
        }
    }

    static func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) } }

    // A non-blocking pipe of one page takes a few KiB a call: every write is short or EAGAIN, and
    // the slow reader on its own thread decides when there is room again.
    @Test func writesEverythingThroughShortWritesOnASmallPipe() throws {
        let pipe = try Pipe()
        _ = fcntl(pipe.write, 1031, 4096)  // F_SETPIPE_SZ
        _ = fcntl(pipe.write, F_SETFL, fcntl(pipe.write, F_GETFL) | O_NONBLOCK)
        let sent = Self.pattern(300_000)
        let reader = pipe.read
        let received = LockedBytes()
        let thread = Thread {
            var chunk = [UInt8](repeating: 0, count: 1000)
            while true {
                let count = chunk.withUnsafeMutableBytes { (try? FileDescriptor.read(reader, into: $0, what: "read")) ?? 0 }
                if count == 0 { break }
                received.append(chunk[0..<count])
                usleep(50)
            }
            received.finish()
        }
        thread.start()
        try FileDescriptor.writeAll(pipe.write, sent, what: "write the pipe", deadline: SystemClock.monotonicNanoseconds() + 60_000_000_000)
        pipe.closeWrite()
        #expect(received.wait() == sent)
    }

    @Test func aPeerThatHungUpIsEPIPEAndNotSIGPIPE() throws {
        var ends: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer { close(ends[0]) }
        close(ends[1])
        // The default disposition kills the process on SIGPIPE: only send with MSG_NOSIGNAL survives this.
        let previous = signal(SIGPIPE, SIG_DFL)
        defer { signal(SIGPIPE, previous) }
        #expect(throws: SystemError("send to the peer", code: EPIPE)) {
            try FileDescriptor.writeAll(ends[0], Array("hello".utf8), to: .socket, what: "send to the peer")
        }
    }

    @Test func readAllStopsAtItsLimit() throws {
        for (limit, fits) in [(99, false), (100, true)] {
            let pipe = try Pipe()
            try FileDescriptor.writeAll(pipe.write, Self.pattern(100), what: "write the pipe")
            pipe.closeWrite()
            if fits {
                #expect(try FileDescriptor.readAll(pipe.read, limit: limit, what: "read the pipe") == Self.pattern(100))
            } else {
                #expect(throws: SystemError("read the pipe", code: EFBIG)) {
                    try FileDescriptor.readAll(pipe.read, limit: limit, what: "read the pipe")
                }
            }
        }
    }

    @Test func aFullNonBlockingPipeTimesOutAtTheDeadline() throws {
        let pipe = try Pipe()
        _ = fcntl(pipe.write, F_SETFL, fcntl(pipe.write, F_GETFL) | O_NONBLOCK)
        let start = SystemClock.monotonicNanoseconds()
        #expect(throws: SystemError("write the pipe", code: ETIMEDOUT)) {
            try FileDescriptor.writeAll(pipe.write, [UInt8](repeating: 1, count: 1 << 20), what: "write the pipe", deadline: start + 200_000_000)
        }
        let waited = SystemClock.monotonicNanoseconds() - start
        #expect(waited >= 200_000_000 && waited < 5_000_000_000, "\(waited) ns")
    }

    @Test func aReadAtAnOffsetLeavesTheFilePositionWhereItWas() throws {
        let path = NSTemporaryDirectory() + "tt-pread-\(getpid())"
        defer { unlink(path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.pattern(1000))))
        let descriptor = open(path, O_RDONLY)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 1)
        defer { raw.deallocate() }
        #expect(try FileDescriptor.read(descriptor, into: raw, at: 950, what: "read") == 50)
        #expect(Array(raw.prefix(50)) == Array(Self.pattern(1000)[950...]))
        #expect(try FileDescriptor.read(descriptor, into: raw, at: 1000, what: "read") == 0)
        #expect(try FileDescriptor.read(descriptor, into: raw, what: "read") == 100)
        #expect(Array(raw) == Array(Self.pattern(1000)[0..<100]))
        #expect(throws: SystemError("read a pipe", code: ESPIPE)) {
            let pipe = try Pipe()
            _ = try FileDescriptor.read(pipe.read, into: raw, at: 0, what: "read a pipe")
        }
    }

    @Test func aFailedReadSaysWhatWasRead() {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { raw.deallocate() }
        #expect(throws: SystemError("read nothing", code: EBADF)) {
            try FileDescriptor.read(-1, into: raw, what: "read nothing")
        }
    }
}

/// Bytes one thread appends and another waits for.
final class LockedBytes: @unchecked Sendable {
    // Every access holds `condition`.
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var done = false

    func append(_ more: ArraySlice<UInt8>) {
        condition.lock()
        bytes += more
        condition.unlock()
    }

    func finish() {
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while !done { condition.wait() }
        return bytes
    }
}

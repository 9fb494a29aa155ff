import Glibc
import Posix

/// Reads a /proc tree (the real one, or a fake one in a temporary directory for tests).
///
/// Every read may fail because a process vanished mid-way: failures are nil or empty, never traps.
/// A value type with no state beyond its root, so it is safe to use from any thread.
public struct ProcFileSystem: Sendable {
    /// Identity of a file for caching: device, inode and modification time.
    public struct FileStamp: Hashable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var modified: Int64
        public var size: Int64
    }

    /// The directory standing for /proc, without a trailing slash.
    public let root: String

    public init(root: String = "/proc") {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
    }

    /// The path of `relative` inside the tree.
    public func path(_ relative: String) -> String { root + "/" + relative }

    /// The whole content of a file, or nil when it cannot be read. /proc files report size 0, so this reads until EOF.
    public func read(_ relative: String, limit: Int = 1 << 24) -> [UInt8]? {
        ProcFileSystem.readFile(atPath: path(relative), limit: limit)
    }

    /// The content of a file as text (invalid UTF-8 is repaired), or nil.
    public func readText(_ relative: String, limit: Int = 1 << 24) -> String? {
        guard let bytes = read(relative, limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The target of a symbolic link, or nil.
    public func readLink(_ relative: String) -> String? {
        ProcFileSystem.readLink(atPath: path(relative))
    }

    /// Names in a directory (without "." and ".."), or nil when it cannot be opened.
    public func list(_ relative: String) -> [String]? {
        ProcFileSystem.listDirectory(atPath: relative.isEmpty ? root : path(relative))
    }

    /// The numeric entries of the root: the pids of live processes.
    public func pids() -> [Int32] {
        (list("") ?? []).compactMap { name in
            guard let first = name.utf8.first, first >= 0x30, first <= 0x39 else { return nil }
            return Int32(name)
        }
    }

    /// Device, inode and modification time of `relative` (following links), or nil.
    public func stamp(_ relative: String) -> FileStamp? { ProcFileSystem.stamp(atPath: path(relative)) }

    // MARK: - The system calls

    /// Reads a file to its end, at most `limit` bytes. The corresponding C functions are `open`,
    /// `read` and `close`.
    ///
    /// Reads into one scratch buffer and copies what came: growing the result by appending zeros
    /// first cost a generic per-byte loop in unoptimized builds (1.6 s of CPU for the first /proc
    /// scan of 70 processes), and read past `limit`.
    static func readFile(atPath path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: max(1, min(limit, 4096)))
        while out.count < limit {
            let want = min(scratch.count, limit - out.count)
            let got = scratch.withUnsafeMutableBytes { buffer -> Int in
                (try? FileDescriptor.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), what: path)) ?? -1
            }
            if got < 0 { return nil }
            if got == 0 { break }
            out.append(contentsOf: scratch[0..<got])
            if got == scratch.count && scratch.count < 1 << 20 && out.count < limit {
                scratch = [UInt8](repeating: 0, count: min(scratch.count * 2, 1 << 20, limit - out.count))
            }
        }
        return out
    }

    /// The corresponding C function is `readlink`.
    static func readLink(atPath path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = buffer.withUnsafeMutableBufferPointer { pointer -> Int in
            guard let base = pointer.baseAddress else { return -1 }
            return Glibc.readlink(path, base, 4096)
        }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The corresponding C functions are `opendir`, `readdir` and `closedir`.
    static func listDirectory(atPath path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            // d_name is a NUL-terminated fixed array inside the dirent that readdir returned; it stays
            // valid until the next readdir call, and the name is copied out before that.
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The corresponding C function is `stat`.
    static func stamp(atPath path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            size: Int64(info.st_size))
    }
}

import Glibc
import Posix
import Synchronization

/// Finds the files a process maps that carry OpenSSL's `SSL_write` or `SSL_write_ex`: the system
/// libssl, a container's own copy, an executable with OpenSSL built in (node), a module vendoring
/// it with local symbols only (Python `cryptography`'s `_rust.abi3.so`). A search by file name
/// misses the last two; this reads the symbol tables of every executable mapping.
///
/// Each file is read once per (device, inode, modification time, size): the verdict is cached,
/// up to `cacheLimit` files (then the cache starts over). Files are reached through
/// `/proc/PID/root` + the mapped path, so a process in another mount namespace yields a path to
/// its own copy, or through `/proc/PID/map_files/RANGE` when that path does not lead to the mapped
/// file (deleted, replaced). Stripped files with no symbol left are reported as not probed.
/// Safe to use from any thread (the cache has its own lock).
public final class TLSLibraryScanner: Sendable {
    /// A mapped file that has `SSL_write` or `SSL_write_ex`.
    public struct Library: Hashable, Sendable {
        /// The path to attach to: reachable from this (the monitor's) mount namespace.
        public var path: String
        /// The path the process maps it under (in its own mount namespace).
        public var mappedPath: String
        /// The file's identity.
        public var file: ProcFileSystem.FileStamp
        /// Which functions it defines, and in which symbol tables.
        public var functions: [String: ELFFunctionFinder.Tables]
    }

    /// Counts since creation, for the log and the tests.
    public struct Statistics: Equatable, Sendable {
        /// Files whose symbol tables were read.
        public var filesRead = 0
        /// Files read that carry `SSL_write` or `SSL_write_ex`.
        public var filesWithFunctions = 0
        /// Files read without them, or with no symbols at all (stripped): not probed.
        public var filesWithout = 0
        /// Files that could not be read or parsed.
        public var filesUnreadable = 0
    }

    /// The functions looked for.
    public static let functionNames: Set<String> = ["SSL_write", "SSL_write_ex"]

    private enum Verdict {
        case carries([String: ELFFunctionFinder.Tables])
        case none
    }

    private struct Cache {
        var verdicts: [ProcFileSystem.FileStamp: Verdict] = [:]
        var statistics = Statistics()
    }

    private let proc: ProcFileSystem
    private let cacheLimit: Int
    private let cache = Mutex(Cache())

    public init(proc: ProcFileSystem = ProcFileSystem(), cacheLimit: Int = 4096) {
        self.proc = proc
        self.cacheLimit = max(1, cacheLimit)
    }

    /// What has been read so far.
    public var statistics: Statistics { cache.withLock { $0.statistics } }

    /// The files process `pid` maps executable that carry `SSL_write` or `SSL_write_ex`, each once.
    /// Empty when the process is gone or its maps cannot be read.
    public func libraries(pid: Int32) -> [Library] {
        guard let maps = proc.readText("\(pid)/maps") else { return [] }
        var seen: Set<MappedFile> = []
        var found: [Library] = []
        for line in maps.split(separator: "\n") {
            guard let mapping = TLSLibraryScanner.parse(mapsLine: line), seen.insert(mapping.file).inserted else {
                continue
            }
            guard let (path, stamp) = reach(mapping, pid: pid) else {
                cache.withLock { $0.statistics.filesUnreadable += 1 }
                continue
            }
            if case .carries(let functions) = verdict(path: path, stamp: stamp) {
                found.append(Library(path: path, mappedPath: mapping.path, file: stamp, functions: functions))
            }
        }
        return found
    }

    /// Which of the functions the file at `path` defines (empty when none, or unreadable).
    public func functions(inFileAt path: String) -> [String: ELFFunctionFinder.Tables] {
        guard let stamp = ProcFileSystem.stamp(atPath: path) else { return [:] }
        if case .carries(let functions) = verdict(path: path, stamp: stamp) { return functions }
        return [:]
    }

    // MARK: - Reading

    /// An executable mapping of a file, from one line of /proc/PID/maps.
    struct Mapping {
        var range: Substring
        var file: MappedFile
        var path: String
        var deleted: Bool
    }

    /// The file a mapping names: maps' device ("fd:01", hex) and inode, with the path.
    struct MappedFile: Hashable {
        var device: Substring
        var inode: UInt64
    }

    /// Parses "START-END PERMS OFFSET DEV INODE   PATH"; nil unless executable and file-backed.
    static func parse(mapsLine line: Substring) -> Mapping? {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count == 6 else { return nil }
        let permissions = fields[1]
        guard permissions.count >= 3, permissions.dropFirst(2).first == "x" else { return nil }
        guard let inode = UInt64(fields[4]), inode != 0 else { return nil }
        var path = String(fields[5].drop { $0 == " " })
        guard path.hasPrefix("/") else { return nil }
        let deletedSuffix = " (deleted)"
        let deleted = path.hasSuffix(deletedSuffix)
        if deleted { path.removeLast(deletedSuffix.count) }
        return Mapping(range: fields[0], file: MappedFile(device: fields[3], inode: inode), path: path, deleted: deleted)
    }

    /// A path to the mapped file from here, with its identity: /proc/PID/root + path when that is
    /// the mapped inode, else /proc/PID/map_files/RANGE (needs CAP_SYS_ADMIN).
    private func reach(_ mapping: Mapping, pid: Int32) -> (String, ProcFileSystem.FileStamp)? {
        if !mapping.deleted {
            let rooted = proc.path("\(pid)/root") + mapping.path
            if let stamp = ProcFileSystem.stamp(atPath: rooted), stamp.inode == mapping.file.inode {
                return (rooted, stamp)
            }
        }
        let mapped = proc.path("\(pid)/map_files/\(mapping.range)")
        guard let stamp = ProcFileSystem.stamp(atPath: mapped) else { return nil }
        return (mapped, stamp)
    }

    private func verdict(path: String, stamp: ProcFileSystem.FileStamp) -> Verdict {
        if let known = cache.withLock({ $0.verdicts[stamp] }) { return known }
        let verdict: Verdict
        var unreadable = false
        do {
            let source = try FileByteSource(path: path)
            let functions = try ELFFunctionFinder.definedFunctions(named: TLSLibraryScanner.functionNames, in: source)
            verdict = functions.isEmpty ? .none : .carries(functions)
        } catch {
            verdict = .none
            unreadable = true
        }
        cache.withLock { cache in
            if cache.verdicts.count >= cacheLimit { cache.verdicts.removeAll(keepingCapacity: true) }
            cache.verdicts[stamp] = verdict
            if unreadable {
                cache.statistics.filesUnreadable += 1
            } else {
                cache.statistics.filesRead += 1
                if case .carries = verdict {
                    cache.statistics.filesWithFunctions += 1
                } else {
                    cache.statistics.filesWithout += 1
                }
            }
        }
        return verdict
    }
}

/// A file read at offsets, for `ELFFunctionFinder`. Closes its descriptor when released.
final class FileByteSource: ELFByteSource {
    private let descriptor: Int32

    /// Opens `path` for reading. The corresponding C function is `open`.
    init(path: String) throws(ELFError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(errno) }
        self.descriptor = descriptor
    }

    deinit { Glibc.close(descriptor) }

    /// The corresponding C function is `pread`.
    func read(at offset: UInt64, count: Int) throws(ELFError) -> [UInt8] {
        guard count >= 0, offset <= UInt64(Int64.max) else { throw .truncated }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            var failure: SystemError?
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                // `filled < count == buffer.count`, so the destination lies inside the buffer.
                do throws(SystemError) {
                    return try FileDescriptor.read(
                        descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]),
                        at: Int64(offset) &+ Int64(filled), what: "read")
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw .unreadable(failure.code) }
            if got == 0 { break }
            filled += got
        }
        bytes.removeLast(count - filled)
        return bytes
    }
}

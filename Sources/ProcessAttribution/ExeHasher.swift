import Glibc

/// Hashes executables once per (device, inode, modification time), so a program run a thousand times is read once.
///
/// Not thread-safe by itself: its owner (the `Attributor`'s lookup state) serialises the calls.
struct ExeHasher {
    private var cache: [ProcFileSystem.FileStamp: String] = [:]
    /// Files larger than this are not hashed (a runaway read of a huge file would stall attribution).
    var sizeLimit: Int64 = 512 << 20

    /// The hash of the file at `path` (an absolute path, or `/proc/PID/exe`), from the cache when its stamp is known.
    mutating func sha256(ofFileAt path: String) -> String? {
        guard let stamp = ProcFileSystem.stamp(atPath: path), stamp.size <= sizeLimit else { return nil }
        if let known = cache[stamp] { return known }
        guard let digest = ExeHasher.hashFile(atPath: path) else { return nil }
        if cache.count > 4096 { cache.removeAll(keepingCapacity: true) }
        cache[stamp] = digest
        return digest
    }

    /// The cached hash for a stamp, without reading anything.
    func cached(_ stamp: ProcFileSystem.FileStamp) -> String? { cache[stamp] }

    /// Remembers a hash computed outside the owner's lock.
    mutating func store(_ digest: String, for stamp: ProcFileSystem.FileStamp) {
        if cache.count > 4096 { cache.removeAll(keepingCapacity: true) }
        cache[stamp] = digest
    }

    /// Reads a file in 1 MiB chunks. The corresponding C functions are `open`, `read` and `close`.
    static func hashFile(atPath path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let got = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return read(fd, base, raw.count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if got == 0 { break }
            hash.update(buffer[0..<got])
        }
        return SHA256.hexString(hash.finish())
    }
}

import Posix

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
        guard let digest = try? FileDigest.sha256(ofFileAt: path) else { return nil }
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
}

#if canImport(Glibc)
import Glibc
#endif

/// Files written whole with an exact mode: for their owner and group only (an audit, an evidence
/// bundle), or readable by all where another service's user reads them (node-exporter's textfile).
/// The one place a file is replaced through a temporary one.
public enum PrivateFile {
    /// Writes `bytes` to `path` with exactly `mode` (default 0640): through a new file renamed over
    /// the old one, so a reader sees the old content or the new and never a wider mode, and never
    /// through a symbolic link planted at the temporary name.
    ///
    /// The corresponding C functions are `open`, `fchmod`, `write` and `rename`.
    public static func write(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o640) throws(SystemError) {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else { throw SystemError("create \(temporary)") }
        // The umask may have taken bits away, never added them: set exactly `mode`.
        fchmod(descriptor, mode_t(mode))
        do {
            try FileDescriptor.writeAll(descriptor, bytes, what: "write \(path)")
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let failure = SystemError("rename \(temporary) to \(path)")
            unlink(temporary)
            throw failure
        }
    }

    /// Makes the directory `path` with exactly `mode` (default 0750), or takes an existing empty
    /// directory and sets its mode; anything else at `path` (a file, a link, a directory with
    /// entries) is refused with `EEXIST` or `ENOTEMPTY`.
    ///
    /// The corresponding C functions are `mkdir`, `lstat`, `opendir` and `chmod`.
    public static func makeEmptyDirectory(_ path: String, mode: UInt32 = 0o750) throws(SystemError) {
        if mkdir(path, mode_t(mode)) != 0 {
            guard errno == EEXIST else { throw SystemError("create directory \(path)") }
            var info = stat()
            guard lstat(path, &info) == 0 else { throw SystemError("look at \(path)") }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw SystemError("create directory \(path)", code: EEXIST) }
            guard let directory = opendir(path) else { throw SystemError("open directory \(path)") }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in raw.prefix(while: { $0 != 0 }) }
                if !name.elementsEqual(".".utf8) && !name.elementsEqual("..".utf8) {
                    throw SystemError("use directory \(path)", code: ENOTEMPTY)
                }
            }
        }
        guard chmod(path, mode_t(mode)) == 0 else { throw SystemError("set the mode of \(path)") }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Reads files that decide what the daemon does as root (its configuration, the rules and their
/// lists) only when they are safe to trust, as OpenSSH decides for `authorized_keys`: owned by
/// root or this user, not writable by group or others, every directory above them likewise, and
/// never through a symbolic link.
///
/// One difference from OpenSSH: a directory above may be world-writable when its sticky bit is set
/// (`/tmp`), since then no one else can replace what it holds.
public enum TrustedFile {
    /// Why a file cannot be used: the path concerned (the file or a directory above it) and what is wrong.
    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String

        /// The system call that failed, when one did rather than a check.
        public var cause: SystemError?

        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }

        /// `path` could not be read: "cannot read: " and the system's message.
        public init(path: String, cannotRead cause: SystemError) {
            self.init(path: path, message: "cannot read: \(cause.message)")
            self.cause = cause
        }

        public var description: String { "\(path): \(message)" }
    }

    /// Reads a regular file as UTF-8 text, refusing symbolic links, FIFOs and devices (which would
    /// block), files larger than `maximumSize`, and (when `checkTrust`) untrusted files or directories.
    ///
    /// The corresponding C functions are `lstat`, `open`, `fstat` and `read`.
    public static func read(_ path: String, checkTrust: Bool, maximumSize: Int) throws(Refusal) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Refusal(path: path, cannotRead: SystemError("lstat \(path)")) }
        if info.st_mode & S_IFMT == S_IFLNK {
            throw Refusal(path: path, message: "is a symbolic link: refused; give the path of the file itself")
        }
        // O_NONBLOCK so a FIFO swapped in after lstat cannot block the open; fstat then decides.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw Refusal(path: path, cannotRead: SystemError("open \(path)")) }
        defer { close(descriptor) }
        guard fstat(descriptor, &info) == 0 else { throw Refusal(path: path, cannotRead: SystemError("fstat \(path)")) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Refusal(path: path, message: "is \(kind(info)), not a regular file: refused")
        }
        if checkTrust {
            if let problem = permissionProblem(info, isDirectory: false) { throw Refusal(path: path, message: problem) }
            if let refusal = directoriesAboveProblem(path) { throw refusal }
        }
        guard info.st_size <= maximumSize else {
            throw Refusal(path: path, message: "is \(info.st_size) bytes, larger than the \(maximumSize >> 20) MiB accepted")
        }
        // The size fstat gave bounds the read: a file that grew since is cut there, as before.
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var count = 0
        while count < bytes.count {
            var failure: SystemError?
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                do throws(SystemError) {
                    return try FileDescriptor.read(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]), what: "read \(path)")
                } catch {
                    failure = error
                    return 0
                }
            }
            if let failure { throw Refusal(path: path, cannotRead: failure) }
            if got == 0 { break }
            count += got
        }
        guard let text = String(validating: bytes[0..<count], as: UTF8.self) else {
            throw Refusal(path: path, message: "not UTF-8 text")
        }
        return text
    }

    /// Whether `path` is a directory (else a file of another kind), refusing a symbolic link (with
    /// `linkAdvice` after the refusal) and, when `checkTrust`, a file or directory that is not safe
    /// to trust or lies under a directory that is not. Nothing is opened.
    ///
    /// The corresponding C function is `lstat`.
    public static func isDirectory(_ path: String, checkTrust: Bool, linkAdvice: String) throws(Refusal) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Refusal(path: path, cannotRead: SystemError("lstat \(path)")) }
        let type = info.st_mode & S_IFMT
        if type == S_IFLNK { throw Refusal(path: path, message: "is a symbolic link: refused; \(linkAdvice)") }
        let isDirectory = type == S_IFDIR
        if checkTrust {
            if let problem = permissionProblem(info, isDirectory: isDirectory) { throw Refusal(path: path, message: problem) }
            if let refusal = directoriesAboveProblem(path) { throw refusal }
        }
        return isDirectory
    }

    /// Why a program is not safe to run with the daemon's privileges, or nil: the same test as for
    /// a configuration file, applied to the executable a path resolves to and to every directory
    /// above it and above the path (a link in /usr/bin to a file elsewhere is followed and checked).
    public static func programProblem(_ path: String) -> Refusal? {
        if let refusal = directoriesAboveProblem(path) { return refusal }
        guard let resolvedPointer = realpath(path, nil) else {
            return Refusal(path: path, message: "cannot find the program: \(SystemError("realpath \(path)").message)")
        }
        let resolved = String(cString: resolvedPointer)
        free(resolvedPointer)
        var info = stat()
        guard stat(resolved, &info) == 0 else { return Refusal(path: resolved, cannotRead: SystemError("stat \(resolved)")) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return Refusal(path: resolved, message: "is \(kind(info)), not a program: refused")
        }
        guard info.st_mode & 0o111 != 0 else { return Refusal(path: resolved, message: "is not executable") }
        if let problem = permissionProblem(info, what: "program") { return Refusal(path: resolved, message: problem) }
        return directoriesAboveProblem(resolved)
    }

    /// Why a file or directory with this status is not safe to trust, or nil.
    static func permissionProblem(_ info: stat, isDirectory: Bool) -> String? {
        permissionProblem(info, what: isDirectory ? "directory" : "file")
    }

    static func permissionProblem(_ info: stat, what: String) -> String? {
        if info.st_uid != 0 && info.st_uid != geteuid() {
            return "the \(what) is owned by uid \(info.st_uid), neither root nor this user: refused"
        }
        if info.st_mode & 0o022 != 0 {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            return "the \(what) is writable by group or others (mode 0\(mode)): refused; run chmod go-w on it"
        }
        return nil
    }

    /// The first directory above `path` (after resolving links in it) that is not safe to trust, or nil.
    public static func directoriesAboveProblem(_ path: String) -> Refusal? {
        let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
        let parent = String(absolute[..<(absolute.lastIndex(of: "/") ?? absolute.startIndex)])
        guard let resolved = realpath(parent.isEmpty ? "/" : parent, nil) else {
            return Refusal(path: parent, message: "cannot resolve the directory: \(SystemError("realpath \(parent)").message)")
        }
        var directory = String(cString: resolved)
        free(resolved)
        while true {
            var info = stat()
            guard stat(directory, &info) == 0 else {
                return Refusal(path: directory, message: "cannot read the directory: \(SystemError("stat \(directory)").message)")
            }
            let sticky = info.st_mode & S_ISVTX != 0
            if info.st_uid != 0 && info.st_uid != geteuid() {
                return Refusal(path: directory, message: "the directory above \(path) is owned by uid \(info.st_uid), neither root nor this user: refused")
            }
            if info.st_mode & 0o022 != 0 && !sticky {
                let mode = String(info.st_mode & 0o7777, radix: 8)
                return Refusal(path: directory, message: "the directory above \(path) is writable by group or others (mode 0\(mode)): refused; run chmod go-w on it")
            }
            if directory == "/" { return nil }
            let cut = directory.lastIndex(of: "/") ?? directory.startIndex
            directory = cut == directory.startIndex ? "/" : String(directory[..<cut])
        }
    }

    static func kind(_ info: stat) -> String {
        switch info.st_mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFDIR: "a directory"
        default: "of an unknown kind"
        }
    }

    static func currentDirectory() -> String {
        guard let cwd = getcwd(nil, 0) else { return "." }
        defer { free(cwd) }
        return String(cString: cwd)
    }
}

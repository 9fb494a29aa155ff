#if canImport(Glibc)
import Glibc
#endif

/// A system call that failed: what was being done, and the `errno` it failed with.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being done, said for a person: `"cannot start notify-send"`, `"read /usr/bin/curl"`.
    public var operation: String
    /// The `errno` value the call failed with.
    public var code: Int32

    /// An error for `operation` that failed with `code`.
    public init(_ operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// An error for `operation` that failed with the calling thread's current `errno`.
    public init(_ operation: String) {
        self.init(operation, code: errno)
    }

    /// The C library's text for `code`. The corresponding C function is `strerror`.
    public var message: String { String(cString: strerror(code)) }

    public var description: String { "\(operation): \(message)" }
}

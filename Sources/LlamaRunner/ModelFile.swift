import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Posix

/// A model file on disk, checked before llama.cpp is asked to load it.
public struct ModelFile: Sendable, Equatable {
    public var path: String
    public var size: UInt64
    public var header: GGUFHeader

    /// Reads and checks the file's header: that it exists, is a GGUF file of a known version, has a
    /// well-formed header, and is long enough for every tensor the header lists.
    ///
    /// `tensorBytes` gives the byte size of a tensor of a ggml type and dimensions, or nil for a
    /// type the library does not know.
    public static func inspect(
        path: String,
        tensorBytes: (_ type: UInt32, _ dimensions: [UInt64]) -> UInt64?
    ) throws(LlamaError) -> ModelFile {
        let operation = "open model \(path)"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LlamaError(.modelFileMissing, operation: operation, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw LlamaError(.modelFileUnreadable, operation: operation, message: "is a directory, not a model file")
        }
        // Opening a FIFO or a device would block (or read forever): only regular files are models.
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw LlamaError(.modelFileUnreadable, operation: operation, cause: SystemError("stat \(path)"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let kind = switch info.st_mode & S_IFMT {
            case S_IFIFO: "a FIFO"
            case S_IFCHR: "a character device"
            case S_IFBLK: "a block device"
            case S_IFSOCK: "a socket"
            default: "of an unknown kind"
            }
            throw LlamaError(.modelFileUnreadable, operation: operation, message: "is \(kind), not a regular file: refused")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw LlamaError(.modelFileUnreadable, operation: operation, message: "cannot be opened for reading (permissions?)")
        }
        defer { try? handle.close() }
        let size: UInt64
        do {
            size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
        } catch {
            throw LlamaError(.modelFileUnreadable, operation: operation, message: "cannot be read: \(error)")
        }

        // Most headers fit in a few MiB; one with a very large vocabulary is read again, bigger.
        var window: UInt64 = 4 << 20
        var bytes: [UInt8] = []
        while true {
            let wanted = min(window, size)
            do {
                try handle.seek(toOffset: UInt64(bytes.count))
                if let more = try handle.read(upToCount: Int(wanted) - bytes.count) {
                    bytes.append(contentsOf: more)
                }
            } catch {
                throw LlamaError(.modelFileUnreadable, operation: operation, message: "cannot be read: \(error)")
            }
            let parsed = Result { () throws(GGUFHeader.ParseError) in try GGUFHeader.parse(bytes) }
            switch parsed {
            case .success(let header):
                try checkTensors(header, fileSize: size, tensorBytes: tensorBytes, operation: operation)
                return ModelFile(path: path, size: size, header: header)
            case .failure(.needMoreBytes) where wanted < size:
                window *= 4
            case .failure(.needMoreBytes):
                if size < 8 {
                    throw LlamaError(.truncatedModel, operation: operation,
                                     message: "file is only \(size) bytes, shorter than a GGUF header")
                }
                throw LlamaError(.truncatedModel, operation: operation,
                                 message: "file ends at byte \(size), inside its GGUF header (truncated)")
            case .failure(.notGGUF(let first)):
                let shown = first.map { String($0, radix: 16, uppercase: false) }.map { $0.count == 1 ? "0" + $0 : $0 }
                throw LlamaError(.notGGUF, operation: operation, message: size == 0
                    ? "file is empty, not a GGUF model"
                    : "not a GGUF model: the file starts with bytes [\(shown.joined(separator: " "))], not \"GGUF\"")
            case .failure(.unsupportedVersion(let version)):
                throw LlamaError(.unsupportedVersion, operation: operation,
                                 message: "GGUF version \(version) is not supported (2 and 3 are); the header may be damaged")
            case .failure(.malformed(let offset, let reason)):
                throw LlamaError(.corruptedModel, operation: operation,
                                 message: "damaged GGUF header at byte \(offset): \(reason)")
            }
        }
    }

    /// Checks tensor types and that the file holds every tensor's data.
    private static func checkTensors(
        _ header: GGUFHeader, fileSize: UInt64,
        tensorBytes: (UInt32, [UInt64]) -> UInt64?, operation: String
    ) throws(LlamaError) {
        var needed = header.dataOffset
        for tensor in header.tensors {
            guard let bytes = tensorBytes(tensor.type, tensor.dimensions) else {
                throw LlamaError(.corruptedModel, operation: operation,
                                 message: "damaged GGUF header: tensor \(tensor.name.debugDescription) has unknown type \(tensor.type) or a shape that type cannot hold")
            }
            let (end, overflow) = header.dataOffset.addingReportingOverflow(tensor.offset)
            let (last, overflow2) = end.addingReportingOverflow(bytes)
            guard !overflow, !overflow2 else {
                throw LlamaError(.corruptedModel, operation: operation,
                                 message: "damaged GGUF header: tensor \(tensor.name.debugDescription) lies beyond any possible file")
            }
            needed = max(needed, last)
        }
        guard needed <= fileSize else {
            throw LlamaError(.truncatedModel, operation: operation,
                             message: "file is \(fileSize) bytes but its tensors need \(needed) bytes (truncated)")
        }
    }

    /// The SHA-256 of a file, as lowercase hex, read in pieces.
    public static func sha256(path: String) throws(LlamaError) -> String {
        do {
            return try FileDigest.sha256(ofFileAt: path)
        } catch {
            throw LlamaError(.modelFileUnreadable, operation: "hash model \(path)", message: error.description)
        }
    }
}

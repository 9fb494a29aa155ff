import Foundation

/// `fuzz TARGET FILE_OR_DIRECTORY…` replays inputs through one parser. Built by scripts/fuzz.sh with
/// `-D FUZZING` and `-sanitize=fuzzer,address`, it is a libFuzzer binary instead: the target comes
/// from `TELLTALE_FUZZ_TARGET` and every argument goes to libFuzzer.
@main
enum Fuzz {
    static func main() {
        #if FUZZING
        runLibFuzzer()
        #else
        replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    /// Runs each file once through the target's parser. Returning is passing; a parser that traps
    /// ends the process with a signal.
    static func replay(_ arguments: [String]) {
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[0]) else {
            fail("usage: fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE_OR_DIRECTORY…")
        }
        var replayed = 0
        for path in arguments.dropFirst() {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else { fail("fuzz: cannot read \(file)", status: 1) }
                data.withUnsafeBytes { target.run($0) }
                replayed += 1
            }
        }
        print("fuzz: \(target.rawValue): replayed \(replayed) inputs")
    }

    /// The regular files at `path`: itself, or those directly inside it, in name order.
    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("fuzz: no such file: \(path)", status: 1) }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
    }

    static func fail(_ message: String, status: Int32 = 64) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(status)
    }
}

#if FUZZING
/// The target this process fuzzes, named by `TELLTALE_FUZZ_TARGET`; an environment variable rather
/// than an argument so that the processes libFuzzer starts itself (-fork, -merge) inherit it.
let fuzzTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["TELLTALE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        Fuzz.fail("fuzz: set TELLTALE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

/// libFuzzer's entry point: one input through the chosen parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// libFuzzer's driver, for programs that keep their own `main` (SwiftPM gives every executable one).
@_extern(c, "LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

extension Fuzz {
    static func runLibFuzzer() -> Never {
        _ = fuzzTarget
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv, fuzzOne))
    }
}
#endif

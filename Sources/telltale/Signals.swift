import Capture
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Routes SIGINT and SIGTERM to a stop signal, so a blocked capture ends at once.
enum Signals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []  // set once, on the main thread

    static func stopOnTermination(_ stop: StopSignal) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.trigger() }
            source.resume()
            sources.append(source)
        }
    }
}

import Dispatch
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Routes SIGINT and SIGTERM to a stop, and SIGHUP to a reload, through dispatch sources so that
/// the handlers run as ordinary code.
enum Signals {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []  // set once, on the main thread

    static func stopOnTermination(_ stop: StopSignal) {
        install(stop: { stop.trigger() }, reload: nil)
    }

    static func install(stop: @escaping @Sendable () -> Void, reload: (@Sendable () -> Void)?) {
        var handlers: [(Int32, @Sendable () -> Void)] = [(SIGINT, stop), (SIGTERM, stop)]
        if let reload { handlers.append((SIGHUP, reload)) }
        for (number, handler) in handlers {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }
}

import Export
import Posix
import Reporting

extension DaemonConfiguration {
    /// Settings given on the command line, as the person typed them, over the configuration file's.
    /// `problem()` checks them the way the file's settings are checked; `apply(_:)` sets them.
    public struct Overrides: Sendable {
        public var interfaces: [String] = []
        public var database: String?
        public var filter: String?
        public var flushInterval: String?
        public var logLevel: String?
        public var logFormat: String?
        public var rules: String?
        public var baseline: String?
        public var noKernelEvents = false
        public var inspectContent = false
        public var metricsTextfile: String?
        public var metricsListen: String?
        public var ipfixCollector: String?
        public var ipfixTransport: String?
        public var ipfixGroup = false
        public init() {}

        /// The first unusable setting, said as `--option: what is wrong`; nil when every one is usable.
        public func problem() -> String? {
            if let logFormat, PriorityLogHandler.Format(rawValue: logFormat) == nil {
                return "--log-format: expected auto, journal or plain"
            }
            if let metricsTextfile, !(metricsTextfile.hasPrefix("/") && metricsTextfile.hasSuffix(".prom")) {
                return "--metrics-textfile: expected an absolute path ending in .prom (node-exporter reads only those)"
            }
            if let metricsListen {
                let address: SocketAddress
                do { address = try SocketAddress.parse(metricsListen) } catch { return "--metrics-listen: \(error.message)" }
                if !address.isLocal { return "--metrics-listen: only a loopback address or unix:/path is served" }
            }
            if let ipfixCollector {
                let address: SocketAddress
                do { address = try SocketAddress.parse(ipfixCollector) } catch { return "--ipfix: \(error.message)" }
                if let problem = address.collectorProblem(allowGroup: ipfixGroup) { return "--ipfix: \(problem)" }
            }
            if let ipfixTransport, IPFIXExporter.Transport(rawValue: ipfixTransport) == nil {
                return "--ipfix-transport: expected udp or tcp"
            }
            if let flushInterval {
                do { _ = try Quantity.duration(flushInterval, within: Range.flushInterval) } catch { return "--flush-interval: \(error)" }
            }
            return nil
        }
    }

    /// Sets what `overrides` gives (those `problem()` would refuse are left as they are).
    public mutating func apply(_ overrides: Overrides) {
        let o = overrides
        if !o.interfaces.isEmpty { interfaces = o.interfaces }
        if let database = o.database { self.database = database }
        if let filter = o.filter { self.filter = filter }
        if let text = o.flushInterval, let d = try? Quantity.duration(text, within: Range.flushInterval) { flushInterval = d }
        if let logLevel = o.logLevel { self.logLevel = logLevel }
        if let text = o.logFormat, let format = PriorityLogHandler.Format(rawValue: text) { logFormat = format }
        if let rules = o.rules { self.rules = rules }
        if let baseline = o.baseline { self.baseline = baseline }
        if o.noKernelEvents { kernelEvents = false }
        if o.inspectContent { content.enabled = true }
        if let path = o.metricsTextfile { export.metricsTextfile = path }
        if let text = o.metricsListen, let address = try? SocketAddress.parse(text) { export.metricsListen = address }
        if let text = o.ipfixCollector, let address = try? SocketAddress.parse(text) { export.ipfixCollector = address }
        if let text = o.ipfixTransport, let transport = IPFIXExporter.Transport(rawValue: text) { export.ipfixTransport = transport }
        if o.ipfixGroup { export.ipfixAllowGroup = true }
    }
}

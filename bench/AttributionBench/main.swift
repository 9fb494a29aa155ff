// Measures the CPU time the attributor spends per new flow (thread CPU time around `attribute`).
// Usage: attribution-bench ITERATIONS   (run by bench/attribution-cost.sh, which sets up the idle load)
import Foundation
import Glibc
import Logging
import PacketParsing
import Posix
import ProcessAttribution

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 50 : 50
let loopback = IPAddress(v4: 0x7f00_0001)

func measure(_ label: String, options: Attributor.Options, spawn: Bool) throws {
    let attributor = Attributor(logger: Logger(label: "bench"), options: options)
    let seedStart = SystemClock.threadCPUNanoseconds()
    try attributor.start()
    let seedCPU = SystemClock.threadCPUNanoseconds() - seedStart
    defer { attributor.stop() }
    var total: Int64 = 0
    var right = 0
    for _ in 0..<iterations {
        var child: Process?
        var port: UInt16 = 0
        var fd: Int32 = -1
        if spawn {
            // A new process opens a UDP socket and sends: a new flow from a new program.
            let p = Process()
            let pipe = Pipe()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            p.arguments = ["-c", "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.connect(('127.0.0.1',9))\ns.send(b'x')\nprint(s.getsockname()[1],flush=True)\ntime.sleep(30)"]
            p.standardOutput = pipe
            try p.run()
            let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
            port = UInt16(line.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            child = p
        } else {
            // This (old) process opens a new socket: the index must find it among everyone's fds.
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(9).bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            port = UInt16(bigEndian: bound.sin_port)
        }
        let query = SocketQuery(ipProtocol: 17, localAddress: loopback, localPort: port, remoteAddress: loopback, remotePort: 9)
        let before = SystemClock.threadCPUNanoseconds()
        let answer = attributor.attribute(query, at: SystemClock.wallNanoseconds())
        total += SystemClock.threadCPUNanoseconds() - before
        let expected = spawn ? child?.processIdentifier ?? -1 : getpid()
        if answer.identity?.pid == expected { right += 1 }
        if let child { kill(child.processIdentifier, SIGKILL); child.waitUntilExit() }
        if fd >= 0 { close(fd) }
        if !spawn { usleep(1000) }
    }
    let stats = attributor.statistics
    print(String(format: "%@: %.1f µs CPU per new flow (%d/%d attributed right), seed scan %.1f ms CPU, %d processes known, %d fd directories read",
                 label, Double(total) / Double(iterations) / 1000, right, iterations, Double(seedCPU) / 1e6, stats.processesKnown, stats.fdDirectoriesRead))
    print("RESULT \(label) \(Double(total) / Double(iterations) / 1000)")
}

var newProcess = Attributor.Options()
try measure("new-process", options: newProcess, spawn: true)
var oldProcess = Attributor.Options()
oldProcess.youngWindow = 0
oldProcess.fullScanInterval = 0
try measure("old-process", options: oldProcess, spawn: false)

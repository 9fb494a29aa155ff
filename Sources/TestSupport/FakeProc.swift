public import Foundation
public import PacketParsing

/// A fake /proc tree in a temporary directory, removed by `remove()`: processes, their sockets and
/// the socket tables, for attribution without the machine's own processes (and without root).
public struct FakeProc {
    public let root: String

    public init() throws {
        root = NSTemporaryDirectory() + "tt-attr-proc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    public func write(_ relative: String, _ text: String) throws {
        try write(relative, Data(text.utf8))
    }

    public func write(_ relative: String, _ data: Data) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    public func link(_ relative: String, to target: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }

    /// A process directory with stat, status, cmdline, cgroup, exe and its socket fds.
    public func process(
        pid: Int32, ppid: Int32, comm: String, startTime: UInt64, uid: UInt32 = 1000, arguments: [String],
        exe: String, cgroup: String = "0::/user.slice/user-1000.slice/session-2.scope", sockets: [UInt64] = [], netns: UInt64 = 4026531840
    ) throws {
        let p = String(pid)
        try write(p + "/stat", "\(pid) (\(comm)) S \(ppid) \(pid) \(pid) 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \(startTime) 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
        try write(p + "/status", "Name:\t\(comm)\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t\(pid)\nPid:\t\(pid)\nPPid:\t\(ppid)\nUid:\t\(uid)\t\(uid)\t\(uid)\t\(uid)\n")
        try write(p + "/cmdline", Data(arguments.flatMap { Array($0.utf8) + [0] }))
        try write(p + "/cgroup", cgroup + "\n")
        try link(p + "/exe", to: exe)
        try link(p + "/ns/net", to: "net:[\(netns)]")
        try FileManager.default.createDirectory(atPath: root + "/" + p + "/fd", withIntermediateDirectories: true)
        try link(p + "/fd/0", to: "/dev/null")
        for (i, inode) in sockets.enumerated() { try link(p + "/fd/\(i + 3)", to: "socket:[\(inode)]") }
    }

    public func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Formats an IPv4 address the way /proc/net/tcp prints it on a little-endian machine.
public func procHex(_ address: IPAddress, port: UInt16) -> String {
    let hexWords: [String]
    let bytes = address.bytes
    hexWords = stride(from: 0, to: bytes.count, by: 4).map { i in
        // Each 32-bit word is printed from memory as a host-order integer.
        let word = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        return String(format: "%08X", word)
    }
    return hexWords.joined() + ":" + String(format: "%04X", port)
}

/// One /proc/net table line.
public func procLine(_ slot: Int, local: IPAddress, _ lport: UInt16, remote: IPAddress, _ rport: UInt16, state: UInt8, uid: UInt32 = 1000, inode: UInt64) -> String {
    "  \(slot): \(procHex(local, port: lport)) \(procHex(remote, port: rport)) \(String(format: "%02X", state)) 00000000:00000000 00:00000000 00000000  \(uid)        0 \(inode) 2 0000000000000000 0"
}

public let tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
public let udpHeader = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops"

public func ip(_ text: String) -> IPAddress { IPAddress(text) ?? IPAddress(v4: 0) }

public import Flows

/// Interned hostnames: each distinct name is stored once, as one `HostName` that every flow carrying
/// it shares, and referred to here by a small number.
struct NameTable: Sendable {
    private(set) var names: [HostName] = []
    private var ids: [String: UInt32] = [:]

    var count: Int { names.count }

    mutating func intern(_ name: String) -> UInt32 {
        if let id = ids[name] { return id }
        return add(HostName(name))
    }

    private mutating func add(_ name: HostName) -> UInt32 {
        let id = UInt32(names.count)
        names.append(name)
        ids[name.text] = id
        return id
    }

    subscript(id: UInt32) -> HostName { Int(id) < names.count ? names[Int(id)] : NameTable.unknown }

    static let unknown = HostName("")

    /// Keeps only the names `keep` says are still used, renumbering them; returns the old→new map.
    mutating func compact(keeping used: Set<UInt32>) -> [UInt32: UInt32] {
        var renumbered: [UInt32: UInt32] = [:]
        var fresh = NameTable()
        for id in used.sorted() {
            // The same object: flows that carry the name keep sharing it with the table.
            renumbered[id] = fresh.add(self[id])
        }
        self = fresh
        return renumbered
    }
}

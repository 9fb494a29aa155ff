/// Interned hostnames: each distinct name is stored once and referred to by a small number.
struct NameTable: Sendable {
    private(set) var names: [String] = []
    private var ids: [String: UInt32] = [:]

    var count: Int { names.count }

    mutating func intern(_ name: String) -> UInt32 {
        if let id = ids[name] { return id }
        let id = UInt32(names.count)
        names.append(name)
        ids[name] = id
        return id
    }

    subscript(id: UInt32) -> String { Int(id) < names.count ? names[Int(id)] : "" }

    /// Keeps only the names `keep` says are still used, renumbering them; returns the old→new map.
    mutating func compact(keeping used: Set<UInt32>) -> [UInt32: UInt32] {
        var renumbered: [UInt32: UInt32] = [:]
        var fresh = NameTable()
        for id in used.sorted() {
            renumbered[id] = fresh.intern(self[id])
        }
        self = fresh
        return renumbered
    }
}

import PacketParsing

/// Finds a flow's position in the table's record array: open addressing with linear probing over
/// 8-byte slots, and a cheap seeded hash of the key.
///
/// A slot holds the record's position and 32 more bits of its key's hash: a probe that meets another
/// flow's slot moves on without reading that flow's record, whose cache miss was the largest cost of
/// a lookup.
///
/// Swift's `Dictionary` hashes with SipHash and stores each key in its slot; per packet that was the
/// largest single cost of the flow table, and 100,000 flows cost 19 MB of slots. The seed is secret
/// to the process, so crafted packets cannot aim at one probe chain.
struct FlowIndex {
    private var slots: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private let seed: UInt64
    /// No position is -1 (all ones in the low half), so no entry equals this.
    private static let empty = UInt64.max

    @inline(__always) private static func entry(_ position: Int32, hash: Int) -> UInt64 {
        UInt64(UInt(bitPattern: hash) >> 32) << 32 | UInt64(UInt32(bitPattern: position))
    }
    @inline(__always) private static func position(_ entry: UInt64) -> Int32 { Int32(truncatingIfNeeded: entry) }
    @inline(__always) private static func tag(_ entry: UInt64) -> UInt64 { entry >> 32 }

    init(seed: UInt64, capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: FlowIndex.empty, count: size)
        mask = size - 1
        self.seed = seed | 1
    }

    /// A 64-bit hash of the key: its words folded by multiply and rotate, then fully mixed.
    @inline(__always)
    func hash(_ key: FlowKey) -> Int {
        var h = seed
        @inline(__always) func fold(_ word: UInt64) {
            h = (h ^ word) &* 0x9e37_79b9_7f4a_7c15
            h = (h << 31) | (h >> 33)
        }
        fold(key.lowHigh)
        fold(key.lowLow)
        fold(key.highHigh)
        fold(key.highLow)
        fold(UInt64(key.ipProtocol) << 56 | UInt64(key.variant) << 48 | UInt64(key.lowPort) << 32 | UInt64(key.highPort) << 16
            | UInt64(key.vlan) ^ UInt64(key.families) << 8)
        h ^= h >> 30
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return Int(truncatingIfNeeded: h)
    }

    /// The position of the record with this key.
    @inline(__always)
    func find(_ key: FlowKey, in records: ContiguousArray<FlowRecord>) -> Int32? {
        let h = hash(key)
        let tag = UInt64(UInt(bitPattern: h) >> 32)
        var slot = h & mask
        while true {
            let entry = slots[slot]
            if entry == FlowIndex.empty { return nil }
            if FlowIndex.tag(entry) == tag {
                let position = FlowIndex.position(entry)
                if records[Int(position)].key == key { return position }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds a record's position (its key must not be in the index yet).
    mutating func insert(_ position: Int32, in records: ContiguousArray<FlowRecord>) {
        // Growing indexes every record, this one included.
        if (count + 1) * 4 > slots.count * 3 { grow(records); return }
        let h = hash(records[Int(position)].key)
        var slot = h & mask
        while slots[slot] != FlowIndex.empty { slot = (slot + 1) & mask }
        slots[slot] = FlowIndex.entry(position, hash: h)
        count += 1
    }

    /// Removes the record at `position` (whose key is still in `records`).
    mutating func remove(_ position: Int32, in records: ContiguousArray<FlowRecord>) {
        guard var hole = slot(of: position, in: records) else { return }
        slots[hole] = FlowIndex.empty
        count -= 1
        // Backward-shift deletion: pull later entries of the chain into the hole, so no tombstones.
        var next = (hole + 1) & mask
        while slots[next] != FlowIndex.empty {
            let home = hash(records[Int(FlowIndex.position(slots[next]))].key) & mask
            // The entry may move to the hole unless its home lies cyclically in (hole, next].
            let between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !between {
                slots[hole] = slots[next]
                slots[next] = FlowIndex.empty
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    /// Points the entry of the record at `old` to `new` (the record moved in the array).
    mutating func move(_ old: Int32, to new: Int32, in records: ContiguousArray<FlowRecord>) {
        guard let slot = slot(of: old, in: records) else { return }
        slots[slot] = FlowIndex.tag(slots[slot]) << 32 | UInt64(UInt32(bitPattern: new))
    }

    mutating func removeAll() {
        for index in slots.indices { slots[index] = FlowIndex.empty }
        count = 0
    }

    private func slot(of position: Int32, in records: ContiguousArray<FlowRecord>) -> Int? {
        var slot = hash(records[Int(position)].key) & mask
        while true {
            let here = slots[slot]
            if here == FlowIndex.empty { return nil }
            if FlowIndex.position(here) == position { return slot }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow(_ records: ContiguousArray<FlowRecord>) {
        let size = slots.count * 2
        slots = [UInt64](repeating: FlowIndex.empty, count: size)
        mask = size - 1
        count = 0
        for position in records.indices {
            let h = hash(records[position].key)
            var slot = h & mask
            while slots[slot] != FlowIndex.empty { slot = (slot + 1) & mask }
            slots[slot] = FlowIndex.entry(Int32(position), hash: h)
            count += 1
        }
    }
}

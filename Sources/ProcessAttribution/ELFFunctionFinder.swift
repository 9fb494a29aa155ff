/// Finds defined functions by name in an ELF64 little-endian file's symbol tables (`.dynsym` and
/// `.symtab`), without loading the file: it reads the header, the section table and the symbol
/// and string tables it needs through an `ELFByteSource`.
///
/// The files are untrusted (any executable a process maps): every offset, size and index is
/// checked before use, tables are bounded by `tableLimit`, and any inconsistency throws an
/// `ELFError`. Never traps.
public enum ELFFunctionFinder {
    /// The symbol tables a name was found in.
    public struct Tables: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `.dynsym`: exported, what the dynamic linker sees. Survives `strip`.
        public static let dynamic = Tables(rawValue: 1)
        /// `.symtab`: every symbol, local ones included (vendored static copies). Removed by `strip`.
        public static let full = Tables(rawValue: 2)
    }

    /// Largest symbol or string table read (64 MiB): node's `.dynsym` and `.dynstr` are a few MiB.
    public static let defaultTableLimit = 64 << 20

    /// For each of `names` defined as a function (STT_FUNC, section index not SHN_UNDEF) in the
    /// file's `.dynsym` or `.symtab`, the tables it is in. Names not found are absent.
    public static func definedFunctions(
        named names: Set<String>, in source: some ELFByteSource, tableLimit: Int = defaultTableLimit
    ) throws(ELFError) -> [String: Tables] {
        let header = try source.read(at: 0, count: 64)
        guard header.count == 64 else { throw .truncated }
        guard header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C, header[3] == 0x46 else { throw .notELF }
        guard header[4] == 2, header[5] == 1 else { throw .unsupported }  // ELFCLASS64, ELFDATA2LSB

        let sectionOffset = header.u64(at: 0x28)
        let entrySize = Int(header.u16(at: 0x3A))
        var sectionCount = UInt64(header.u16(at: 0x3C))
        guard sectionOffset != 0 else { return [:] }  // no section table: nothing to look up by name
        guard entrySize == 64 else { throw .malformed }

        if sectionCount == 0 {
            // More than 0xff00 sections: the count is in the first entry's sh_size.
            let first = try source.read(at: sectionOffset, count: 64)
            guard first.count == 64 else { throw .truncated }
            sectionCount = Section(first, entry: 0).size
        }
        guard sectionCount > 0, sectionCount <= 1 << 20 else { throw .malformed }
        guard sectionCount * 64 <= UInt64(tableLimit) else { throw .tooLarge }
        let table = try source.read(at: sectionOffset, count: Int(sectionCount) * 64)
        guard table.count == Int(sectionCount) * 64 else { throw .truncated }
        let sections = (0..<Int(sectionCount)).map { Section(table, entry: $0) }

        let wanted = names.map { Array($0.utf8) }
        var found: [String: Tables] = [:]
        for section in sections where section.type == Section.symbolTable || section.type == Section.dynamicSymbols {
            guard section.entrySize == 24, section.size % 24 == 0 else { throw .malformed }
            guard section.link < UInt32(sections.count) else { throw .malformed }
            let strings = sections[Int(section.link)]
            guard strings.type == Section.stringTable else { throw .malformed }
            let symbols = try load(section, from: source, limit: tableLimit)
            let text = try load(strings, from: source, limit: tableLimit)
            let kind: Tables = section.type == Section.dynamicSymbols ? .dynamic : .full
            var index = 0
            while index + 24 <= symbols.count {
                defer { index += 24 }
                let info = symbols[index + 4]
                let sectionIndex = symbols.u16(at: index + 6)
                guard info & 0x0F == 2, sectionIndex != 0 else { continue }  // STT_FUNC, defined
                let nameOffset = Int(symbols.u32(at: index))
                for name in wanted where text.holds(name, at: nameOffset) {
                    found[String(decoding: name, as: UTF8.self), default: []].insert(kind)
                }
            }
        }
        return found
    }

    /// One section header: the fields used.
    private struct Section {
        static let symbolTable: UInt32 = 2  // SHT_SYMTAB
        static let stringTable: UInt32 = 3  // SHT_STRTAB
        static let dynamicSymbols: UInt32 = 11  // SHT_DYNSYM
        static let noBits: UInt32 = 8  // SHT_NOBITS

        var type: UInt32
        var offset: UInt64
        var size: UInt64
        var link: UInt32
        var entrySize: UInt64

        /// Entry `entry` of a section table already read whole (its length was checked).
        init(_ table: [UInt8], entry: Int) {
            let base = entry * 64
            type = table.u32(at: base + 4)
            offset = table.u64(at: base + 24)
            size = table.u64(at: base + 32)
            link = table.u32(at: base + 40)
            entrySize = table.u64(at: base + 56)
        }
    }

    private static func load(_ section: Section, from source: some ELFByteSource, limit: Int) throws(ELFError)
        -> [UInt8]
    {
        guard section.type != Section.noBits else { throw .malformed }
        guard section.size <= UInt64(limit) else { throw .tooLarge }
        let bytes = try source.read(at: section.offset, count: Int(section.size))
        guard bytes.count == Int(section.size) else { throw .truncated }
        return bytes
    }
}

/// Why an ELF file could not be searched.
public enum ELFError: Error, Equatable, Sendable {
    /// The file does not start with the ELF magic.
    case notELF
    /// Not a 64-bit little-endian ELF file.
    case unsupported
    /// The file ends before a header or table it declares.
    case truncated
    /// A header field contradicts the file (entry sizes, indexes, table types).
    case malformed
    /// A table is larger than the reader's limit.
    case tooLarge
    /// The file could not be read: the `errno`.
    case unreadable(Int32)
}

/// Random access to a file's bytes, for `ELFFunctionFinder`.
public protocol ELFByteSource {
    /// Up to `count` bytes at `offset`: fewer only at the end of the file.
    func read(at offset: UInt64, count: Int) throws(ELFError) -> [UInt8]
}

/// A file already in memory.
public struct ELFBytes: ELFByteSource {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(at offset: UInt64, count: Int) throws(ELFError) -> [UInt8] {
        guard count >= 0, offset <= UInt64(bytes.count) else { throw .truncated }
        let start = Int(offset)
        let end = start + min(count, bytes.count - start)
        return Array(bytes[start..<end])
    }
}

extension [UInt8] {
    /// Little-endian reads; callers check `at + width <= count` (the section table and symbol
    /// entries are read whole and iterated within their length).
    fileprivate func u16(at i: Int) -> UInt16 {
        guard i >= 0, i + 2 <= count else { return 0 }
        return UInt16(self[i]) | UInt16(self[i + 1]) << 8
    }

    fileprivate func u32(at i: Int) -> UInt32 {
        guard i >= 0, i + 4 <= count else { return 0 }
        var value: UInt32 = 0
        for k in (0..<4).reversed() { value = value << 8 | UInt32(self[i + k]) }
        return value
    }

    fileprivate func u64(at i: Int) -> UInt64 {
        guard i >= 0, i + 8 <= count else { return 0 }
        var value: UInt64 = 0
        for k in (0..<8).reversed() { value = value << 8 | UInt64(self[i + k]) }
        return value
    }

    /// Whether the NUL-terminated string at `offset` is exactly `name`.
    fileprivate func holds(_ name: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, offset + name.count < count, self[offset + name.count] == 0 else { return false }
        for k in 0..<name.count where self[offset + k] != name[k] { return false }
        return true
    }
}

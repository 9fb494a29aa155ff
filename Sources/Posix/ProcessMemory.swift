import CLinux

/// How this process's heap gives memory back.
public enum ProcessMemory {
    /// Buffers of 128 KiB and more (the flow table's records, batches of rows) are mapped on their
    /// own and go back to the system when freed. glibc otherwise raises that threshold after the
    /// first such buffer is freed, and later ones come from the heap, where a freed buffer stays
    /// resident: 100,000 open flows held 12 MB more for it in the daemon-cost benchmark.
    ///
    /// The corresponding C function is `mallopt(M_MMAP_THRESHOLD, …)`.
    public static func returnLargeBuffersWhenFreed() {
        _ = mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    }

    /// Gives free heap memory back to the system after a burst (a checkpoint of every open flow),
    /// so the resident size falls again instead of staying at the burst's peak.
    ///
    /// The corresponding C function is `malloc_trim`.
    public static func returnFreedMemory() {
        _ = malloc_trim(0)
    }
}

import Glibc

/// The device and inode of an open file descriptor (fstat), or nil when it is not open.
/// Identifies a stream handed over by a parent, such as systemd's $JOURNAL_STREAM.
public func fileIdentity(ofDescriptor descriptor: Int32) -> (device: UInt64, inode: UInt64)? {
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { return nil }
    return (UInt64(info.st_dev), UInt64(info.st_ino))
}

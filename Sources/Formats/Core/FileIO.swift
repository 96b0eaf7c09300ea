#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CKernels

/// The file-system steps every writer shares: positioned writes that finish, and disk
/// reserved up front.
public enum FileIO {
    /// `pwrite(2)` of all of `bytes` at `offset`, retried on EINTR and short writes.
    /// - Throws: `.io` naming `path` when the write fails (a full disk among others).
    public static func writeAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String
    ) throws(FormatError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = pwrite(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(.io("write failed: \(String(cString: strerror(errno)))"), file: path)
            }
            left -= n
            p += n
            at += n
        }
    }

    /// Reserves `size` bytes of disk for the file open on `fd`, its size unchanged (Linux
    /// `fallocate` with FALLOC_FL_KEEP_SIZE). Returns whether blocks were reserved: false
    /// where the file system or platform cannot, and the writes then allocate as they go.
    ///
    /// Why: a write that cannot fit fails before any byte is written, and writes into
    /// reserved blocks skip the file system's allocation (ext4: a new file's buffered writes
    /// ~1.5× faster, 8.1 vs 5.4 GB/s measured).
    /// - Throws: `.io` naming `path` when the disk (or quota, or the file system's largest
    ///   file) cannot hold `size` bytes.
    @discardableResult
    public static func reserve(_ fd: Int32, _ size: Int, path: String) throws(FormatError) -> Bool {
        guard size > 0 else { return false }
        switch ck_reserve_file(fd, Int64(size)) {
        case 0: return true
        case let e where e == ENOSPC || e == EDQUOT || e == EFBIG:
            throw FormatError(
                .io("not enough disk space for \(size) bytes: \(String(cString: strerror(e)))"),
                file: path)
        default: return false
        }
    }
}

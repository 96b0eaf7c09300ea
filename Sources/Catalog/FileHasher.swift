import Crypto
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file's identity on disk as `stat` sees it (following symlinks, as hub snapshots need).
public struct FileStat: Sendable, Hashable {
    /// Size in bytes of the file (the symlink's target).
    public var size: Int64
    /// Modification time in nanoseconds since the epoch.
    public var mtimeNs: Int64
    /// Device and inode: two paths with the same pair are the same bytes on disk.
    public var device: UInt64
    public var inode: UInt64
    /// Kind of the file, after following symlinks.
    public var isDirectory: Bool
    public var isRegular: Bool

    /// Stats `path`, following symlinks; nil when it does not exist or cannot be reached.
    public init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
    }
}

/// Streams files through SHA-256 (swift-crypto: BoringSSL's SHA-NI / AVX2 code on x86_64).
///
/// Files are read with `read(2)` in large chunks into one reused buffer, so memory stays flat
/// whatever the file size, and several files are hashed at once, one per core.
public enum FileHasher {
    /// Read size: big enough that the syscall cost vanishes next to hashing, small enough to
    /// stay in L2/L3 while it is hashed.
    public static let chunkSize = 8 << 20

    /// The lowercase hex sha256 of the file at `path` (symlinks followed).
    /// - Throws: `CatalogError.io` naming the file when it cannot be opened or read.
    public static func sha256(path: String) throws(CatalogError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open", path) }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var offset: Int64 = 0
        while true {
            let n = read(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("read failed at offset \(offset)", path)
            }
            if n == 0 { break }
            // read(2) wrote n <= chunkSize bytes at the start of the buffer.
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += Int64(n)
        }
        return hex(hasher.finalize())
    }

    /// Hashes every path, several at once (one per core); the result has one entry per input,
    /// in order, each the digest or the error for that file. A path listed twice (or two
    /// paths that are the same file, like hub snapshots sharing a blob) is read only once.
    public static func sha256(paths: [String]) -> [Result<String, CatalogError>] {
        // Deduplicate by the file on disk, so shared blobs are read once.
        var firstIndexOfFile: [String: Int] = [:]
        var unique: [String] = []
        var slot: [Int] = []
        for p in paths {
            let key = FileStat(path: p).map { "\($0.device):\($0.inode)" } ?? "path:" + p
            if let k = firstIndexOfFile[key] {
                slot.append(k)
            } else {
                firstIndexOfFile[key] = unique.count
                slot.append(unique.count)
                unique.append(p)
            }
        }
        let files = unique
        let results = ResultBox(count: files.count)
        // concurrentPerform runs one worker per core; the biggest files are not yet sorted
        // first, since sizes usually differ little within a checkpoint.
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            let r: Result<String, CatalogError>
            r = Result { () throws(CatalogError) -> String in try sha256(path: files[i]) }
            results.set(i, r)
        }
        let all = results.values
        return slot.map { all[$0] }
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func ioError(_ what: String, _ path: String) -> CatalogError {
        CatalogError(.io("\(what): \(String(cString: strerror(errno)))"), path: path)
    }
}

/// Results written by concurrent workers, each to its own index, under a lock.
private final class ResultBox: @unchecked Sendable {
    private var storage: [Result<String, CatalogError>]
    private let lock = NSLock()

    init(count: Int) {
        storage = Array(repeating: .failure(CatalogError(.io("not hashed"))), count: count)
    }

    func set(_ i: Int, _ r: Result<String, CatalogError>) {
        lock.lock()
        storage[i] = r
        lock.unlock()
    }

    var values: [Result<String, CatalogError>] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

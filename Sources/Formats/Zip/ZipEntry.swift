/// One member of a ZIP archive, as its central directory describes it (zip64 extras applied)
/// and its local header confirms it.
///
/// Sizes and offsets come from the central directory, never from the local header: numpy
/// and torch write placeholder sizes there (formats doc §2.3, §3.2).
public struct ZipEntry: Sendable, Hashable {
    /// The member's path inside the archive (UTF-8 when flag bit 11 is set, else CP437).
    public let name: String
    /// Compression method: 0 stored, 8 deflated (the only two ckpt reads).
    public let method: UInt16
    /// Bytes the member takes in the archive.
    public let compressedSize: Int
    /// Bytes of the member once extracted.
    public let uncompressedSize: Int
    /// CRC-32 of the extracted bytes, checked by `ZipArchive.data(of:)`.
    public let crc32: UInt32
    /// Absolute offset of the local file header in the buffer (archive prefix included).
    public let localHeaderOffset: Int
    /// Absolute offset of the member's (possibly compressed) data in the buffer.
    public let dataOffset: Int

    /// The two compression methods ckpt extracts (APPNOTE.TXT 4.4.5).
    public enum Method {
        public static let stored: UInt16 = 0
        public static let deflated: UInt16 = 8
    }
}

/// Byte-level constants of the ZIP format (PKWARE APPNOTE.TXT 6.3.10) and ckpt's caps.
enum ZipLayout {
    static let localHeaderSignature: UInt32 = 0x0403_4B50
    static let centralHeaderSignature: UInt32 = 0x0201_4B50
    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let dataDescriptorSignature: UInt32 = 0x0807_4B50

    /// Fixed part of the end of central directory record (APPNOTE 4.3.16).
    static let endRecordSize = 22
    /// The EOCD comment length is a u16, so the record starts at most this far before the end.
    static let maxEndRecordSearch = 65535 + endRecordSize
    /// Zip64 end of central directory locator (APPNOTE 4.3.15).
    static let zip64LocatorSize = 20
    /// Zip64 end of central directory record without extensible data (APPNOTE 4.3.14);
    /// Python's zipfile expects it right before the locator.
    static let zip64EndRecordSize = 56
    static let centralHeaderSize = 46
    static let localHeaderSize = 30

    /// Extra field id of the zip64 extended information (APPNOTE 4.5.3).
    static let zip64ExtraID: UInt16 = 0x0001
    /// General purpose flag bits (APPNOTE 4.4.4): 0 encrypted, 6 strong encryption,
    /// 11 UTF-8 names.
    static let flagEncrypted: UInt16 = 1 << 0
    static let flagStrongEncryption: UInt16 = 1 << 6
    static let flagUTF8: UInt16 = 1 << 11

    /// ckpt's cap on entries: a checkpoint archive has one member per tensor or storage;
    /// a million is far above any real model and bounds the memory a hostile count can claim.
    static let maxEntryCount = 1 << 20
    /// ckpt's cap on member name length: Linux PATH_MAX (4096); the field itself allows 65535.
    static let maxNameLength = 4096
    /// Largest member ckpt inflates (64 GiB): above any single tensor; bounds allocation.
    static let maxInflatedSize = 1 << 36
    /// Deflate cannot expand more than 1032:1 (zlib technical details, "Maximum compression
    /// factor"); a larger claimed ratio is a lie, refused before allocating.
    static let maxDeflateRatio = 1032
}

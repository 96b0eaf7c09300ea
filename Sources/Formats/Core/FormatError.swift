/// Every error ckpt reports adopts this, so the command line renders them alike.
public protocol CkptError: Error, CustomStringConvertible, Sendable {}

/// A malformed, hostile, unsupported or unreadable file, located as precisely as possible:
/// `model.gguf: offset 1234: tensor_infos[3].n_dims: 9 exceeds limit 4`.
public struct FormatError: CkptError, Equatable {
    public enum Reason: Sendable, Equatable {
        /// Fewer bytes than a field needs.
        case truncated(needed: Int, available: Int)
        /// A value that breaks the format's rules.
        case invalid(String)
        /// Valid by the format, but not something ckpt handles (yet).
        case unsupported(String)
        /// A count or size over one of ckpt's named safety caps.
        case limitExceeded(String)
        /// A pickle global outside the allow-list.
        case forbiddenGlobal(String)
        /// The operating system refused (open, mmap, write, rename).
        case io(String)
    }

    public var reason: Reason
    /// The file (or archive member) the error is about.
    public var file: String?
    /// Byte offset in `file` where the bad field starts.
    public var offset: Int?
    /// The field, in the format's own terms (`header.n_tensors`, `data_offsets`).
    public var field: String?

    public init(_ reason: Reason, file: String? = nil, offset: Int? = nil, field: String? = nil) {
        self.reason = reason
        self.file = file
        self.offset = offset
        self.field = field
    }

    /// A copy naming `file`, unless a more specific file is already named.
    public func inFile(_ name: String) -> FormatError {
        var e = self
        if e.file == nil { e.file = name }
        return e
    }

    public var message: String {
        switch reason {
        case .truncated(let needed, let available):
            "truncated: needs \(needed) bytes, \(available) left"
        case .invalid(let s): s
        case .unsupported(let s): "unsupported: \(s)"
        case .limitExceeded(let s): "limit exceeded: \(s)"
        case .forbiddenGlobal(let g): "forbidden pickle global '\(g)' (never resolved or called)"
        case .io(let s): s
        }
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let offset { parts.append("offset \(offset)") }
        if let field { parts.append(field) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Runs `body`, attaching `file` to any `FormatError` that does not name one.
@inlinable
public func inFile<T>(_ file: String, _ body: () throws(FormatError) -> T) throws(FormatError) -> T {
    do { return try body() } catch { throw error.inFile(file) }
}

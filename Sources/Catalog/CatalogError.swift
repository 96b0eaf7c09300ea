import Formats
import GRDB

/// Why a catalog operation failed, naming the database or checkpoint it is about.
///
/// A catalog is never reset to get past an error: a newer schema or a damaged file is reported
/// and left exactly as it was, so that no history is lost.
public struct CatalogError: CkptError {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// The file exists but is not a ckpt catalog (not SQLite, damaged, or someone else's).
        case notACatalog(String)
        /// The database was migrated by a newer ckpt: these migration ids are unknown here.
        case newerSchema([String])
        /// No checkpoint matches this id or path.
        case notFound(String)
        /// An argument that makes no sense (a parent that does not exist, a cycle).
        case invalid(String)
        /// SQLite refused (constraint, busy past the timeout, I/O).
        case database(String)
        /// The operating system refused (stat, open, read, unlink).
        case io(String)
        /// The checkpoint could not be read.
        case format(FormatError)
    }

    /// What went wrong.
    public var reason: Reason
    /// The catalog database or the checkpoint file the error is about.
    public var path: String?

    /// An error about `path` (the database or a checkpoint file), when known.
    public init(_ reason: Reason, path: String? = nil) {
        self.reason = reason
        self.path = path
    }

    /// `PATH: message`, as the command line prints it after `error: `.
    public var description: String {
        let message: String
        switch reason {
        case .notACatalog(let detail):
            message =
                "not a ckpt catalog (\(detail)); the file is left untouched: "
                + "point --catalog or $CKPT_CATALOG elsewhere, or move it aside"
        case .newerSchema(let ids):
            message =
                "catalog schema is newer than this ckpt (unknown migrations: "
                + ids.sorted().joined(separator: ", ") + "); upgrade ckpt to use it"
        case .notFound(let what): message = "no checkpoint \(what) in the catalog"
        case .invalid(let s): message = s
        case .database(let s): message = "database error: \(s)"
        case .io(let s): message = s
        case .format(let e): return e.description
        }
        return path.map { "\($0): \(message)" } ?? message
    }

    /// Wraps any error thrown by GRDB or Foundation during an operation on `path`.
    static func wrap(_ error: any Error, path: String?) -> CatalogError {
        if let e = error as? CatalogError { return e }
        if let e = error as? FormatError { return CatalogError(.format(e), path: nil) }
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return CatalogError(.notACatalog(e.message ?? "\(e.resultCode)"), path: path)
            default:
                return CatalogError(.database(e.description), path: path)
            }
        }
        return CatalogError(.database(String(describing: error)), path: path)
    }
}

import Formats

/// A graph that cannot be built or run: mismatched shapes, an unsupported dtype, an index
/// out of range at eval time.
///
/// Builders throw it as soon as the user-built graph is wrong, so a bad shape is reported
/// where the op is written rather than deep inside `eval`.
public struct ComputeError: CkptError, Equatable {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// Shapes that do not fit the op (broadcasting, matmul inner dims, reshape counts).
        case shape(String)
        /// A dtype the op does not take.
        case dtype(String)
        /// An axis or gathered index outside its range.
        case index(String)
        /// Valid, but not handled by ckpt's engine (yet).
        case unsupported(String)
    }

    public var reason: Reason
    /// The op being built or run (`matmul`, `take`).
    public var op: String

    /// An error about `op`.
    public init(_ reason: Reason, op: String) {
        self.reason = reason
        self.op = op
    }

    /// `op: kind: detail`, as the command line prints it.
    public var description: String {
        switch reason {
        case .shape(let s): "\(op): shape: \(s)"
        case .dtype(let s): "\(op): dtype: \(s)"
        case .index(let s): "\(op): index: \(s)"
        case .unsupported(let s): "\(op): unsupported: \(s)"
        }
    }
}

import Formats

/// A conversion that cannot be carried out as asked (as opposed to a malformed file, which is a
/// `FormatError`): an output format that cannot hold a dtype, a missing `--to`, an existing
/// destination.
public struct ConvertError: CkptError {
    public var message: String
    public var file: String?

    public init(_ message: String, file: String? = nil) {
        self.message = message
        self.file = file
    }

    public var description: String { file.map { "\($0): \(message)" } ?? message }
}

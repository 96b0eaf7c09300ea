import Formats
// Placeholder until the codec branch lands its QuantizeError; removed at merge.
public struct QuantizeError: CkptError {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

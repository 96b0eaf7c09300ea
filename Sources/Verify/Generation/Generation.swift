/// What `DecodingSession.generate` produced, with its timings.
public struct Generation: Sendable, Hashable {
    /// Prompt length.
    public var promptCount: Int
    /// The generated ids (the prompt not included).
    public var ids: [Int32] = []
    /// One-token steps run (the last generated id is never fed back).
    public var steps = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0

    public init(promptCount: Int) { self.promptCount = promptCount }

    /// Prompt tokens per second of the prefill (0 when nothing ran).
    public var prefillTokensPerSecond: Double {
        prefillSeconds > 0 ? Double(promptCount) / prefillSeconds : 0
    }

    /// Decoded tokens per second over the one-token steps (0 when none ran).
    public var decodeTokensPerSecond: Double {
        decodeSeconds > 0 && steps > 0 ? Double(steps) / decodeSeconds : 0
    }
}

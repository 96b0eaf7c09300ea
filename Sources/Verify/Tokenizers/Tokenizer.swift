import Foundation
import Formats

/// Text ↔ token ids, with the ids the reference tokenizer gives.
///
/// ckpt's engine runs models on ids; `ckpt tokenize`, `ckpt forward --text` and the
/// tokenizer parity check need the same ids Hugging Face `tokenizers` (for `tokenizer.json`)
/// or llama.cpp (for a GGUF's vocabulary) would produce, or a comparison means nothing.
public protocol Tokenizer: Sendable {
    /// The ids of `text`; with `addSpecialTokens`, the ones the post-processor adds
    /// (BOS, `[CLS]`/`[SEP]`) too, as `encode(text, add_special_tokens=True)` does.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
    /// The text of `ids`; unknown ids are skipped; special tokens are left out when
    /// `skipSpecialTokens`.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    /// One more than the largest id in the vocabulary, added tokens included.
    var vocabularySize: Int { get }
}

/// Loads a tokenizer from the places checkpoints keep one.
///
/// ```swift
/// let tokenizer = try Tokenizers.load(modelDirectory: "models/SmolLM2-135M")
/// let ids = tokenizer.encode("Hello world", addSpecialTokens: true)
/// ```
public enum Tokenizers {
    /// Most tokens accepted in one vocabulary (the largest real vocabularies, e.g. Gemma's
    /// 262k, are far below it); guards the tables sized from the file.
    public static let maxVocabularySize = 1 << 22

    /// A tokenizer from a Hugging Face `tokenizer.json`.
    /// - Throws: `FormatError` naming the file and the JSON field when the file is malformed
    ///   or uses a component ckpt does not implement (it is refused, never approximated).
    public static func load(tokenizerJSON path: String) throws(FormatError) -> any Tokenizer {
        let buffer = try ByteBuffer(mapping: path)
        return try load(tokenizerJSON: buffer)
    }

    /// A tokenizer from `tokenizer.json` bytes (tests, fuzzers).
    public static func load(tokenizerJSON buffer: ByteBuffer) throws(FormatError) -> any Tokenizer {
        let root = try JSON.parse(buffer.all, field: "tokenizer.json")
        return try TokenizerJSON(root: root, file: buffer.name).build()
    }

    /// A tokenizer from a GGUF's `tokenizer.ggml.*` metadata (models `gpt2`, `llama`, `bert`).
    /// - Throws: `FormatError` naming the key when metadata is missing, malformed or of a
    ///   tokenizer model / pre-tokenizer ckpt does not implement.
    public static func load(gguf: GGUFFile) throws(FormatError) -> any Tokenizer {
        try load(ggufMetadata: gguf.metadata, file: gguf.buffer.name)
    }

    /// A tokenizer from GGUF-style metadata (the `tokenizer.ggml.*` keys), wherever it came from.
    public static func load(ggufMetadata: Metadata, file: String = "<gguf>") throws(FormatError)
        -> any Tokenizer
    {
        try GGUFTokenizerLoader(metadata: ggufMetadata, file: file).build()
    }

    /// The tokenizer of a model directory (its `tokenizer.json`).
    public static func load(modelDirectory path: String) throws(FormatError) -> any Tokenizer {
        try load(tokenizerJSON: path + "/tokenizer.json")
    }

    /// The tokenizer of any model ckpt reads (cli.md `ckpt tokenize MODEL`): a model
    /// directory's `tokenizer.json`, a `tokenizer.json` itself, or a GGUF's embedded vocabulary.
    public static func load(model path: String) throws(FormatError) -> any Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(.io("no such file or directory"), file: path)
        }
        if isDirectory.boolValue { return try load(modelDirectory: path) }
        if path.hasSuffix(".json") { return try load(tokenizerJSON: path) }
        return try load(gguf: GGUFFile(path: path))
    }
}

import Foundation
import Formats
import Verify

/// The `tokenizer.ggml.*` metadata llama.cpp's converter writes for a byte-level BPE
/// `tokenizer.json` (`_set_vocab_gpt2` + gguf-py `SpecialVocab`, formats-gguf.md §5.2, §5.5),
/// in its key order.
///
/// `tokenizer.ggml.pre` is read off the tokenizer's own `pre_tokenizer` definition: the
/// Split regexes and ByteLevel settings that llama.cpp's named pre-tokenizers implement
/// (llama-vocab.cpp). The converter instead hashes the ids of a check string and looks the
/// hash up in a table, which fails on every new model; a definition ckpt does not know is
/// refused here, never guessed.
struct GGUFExportTokenizer {
    /// The keys, in the converter's order.
    let metadata: Metadata
    /// The `tokenizer.json` read.
    let file: String
    /// Whether `tokenizer.json` normalizes to NFC (Qwen2), which llama.cpp does not do: the
    /// parity check then probes with NFC text.
    let normalizesNFC: Bool

    /// Regexes of llama.cpp's pre-tokenizers, as the models' `tokenizer.json` spell them.
    static let gpt2Regex =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Token types (llama.h `llama_token_type`).
    static let normal: Int32 = 1, control: Int32 = 3, userDefined: Int32 = 4, unused: Int32 = 5

    /// Reads `tokenizer.json`, `tokenizer_config.json` (and `chat_template.jinja`) of a model
    /// directory. `vocabularySize` is config.json's `vocab_size` (ids above the tokenizer's
    /// become `[PAD<id>]`, as the converter writes them).
    /// - Throws: `FormatError` naming the file and field of what cannot be converted.
    init(directory: String, vocabularySize: Int, configuration: Metadata) throws(FormatError) {
        let path = directory + "/tokenizer.json"
        file = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw FormatError(
                .unsupported("no tokenizer.json (llama.cpp needs the vocabulary)"), file: path)
        }
        let root = try JSON.parse(try ByteBuffer(mapping: path).all, field: "tokenizer.json")
        guard let model = root["model"]?.objectValue else {
            throw FormatError(.invalid("missing"), file: path, field: "model")
        }
        let type = model["type"]?.stringValue ?? (model["merges"] != nil ? "BPE" : "")
        guard type == "BPE" else {
            throw FormatError(
                .unsupported("tokenizer model \(type) (byte-level BPE is converted)"), file: path,
                field: "model.type")
        }
        let pre = try Self.preTokenizerName(root["pre_tokenizer"] ?? .null, file: path)
        switch root["normalizer"] ?? .null {
        case .null: normalizesNFC = false
        case let n where n["type"]?.stringValue == "NFC": normalizesNFC = true
        default:
            throw FormatError(
                .unsupported("a normalizer with a byte-level BPE (llama.cpp has none)"),
                file: path, field: "normalizer")
        }

        // Vocabulary: base vocab, then added tokens (their ids win, as transformers' vocab).
        var byID: [Int: String] = [:]
        guard let vocab = model["vocab"]?.objectValue else {
            throw FormatError(.invalid("expected an object"), file: path, field: "model.vocab")
        }
        for (token, id) in vocab {
            guard let i = id.intValue, i >= 0, i < Int64(Tokenizers.maxVocabularySize) else {
                throw FormatError(.invalid("bad id"), file: path, field: "model.vocab.\(token)")
            }
            byID[Int(i)] = token
        }
        var added: [Int: (content: String, special: Bool)] = [:]
        var addedByContent: [String: Int] = [:]
        for (k, t) in (root["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard let i = t["id"]?.intValue, i >= 0, let content = t["content"]?.stringValue else {
                throw FormatError(
                    .invalid("expected id and content"), file: path, field: "added_tokens[\(k)]")
            }
            added[Int(i)] = (content, t["special"]?.boolValue ?? false)
            byID[Int(i)] = content
            if addedByContent[content] == nil { addedByContent[content] = Int(i) }
        }
        let n = max(vocabularySize, 0)
        var tokens: [MetadataValue] = []
        var types: [MetadataValue] = []
        tokens.reserveCapacity(n)
        types.reserveCapacity(n)
        for i in 0..<n {
            guard var token = byID[i] else {
                tokens.append(.string("[PAD\(i)]"))
                types.append(.int32(Self.unused))
                continue
            }
            var kind = Self.normal
            if let a = added[i] {
                if a.special || Self.looksSpecial(token) {
                    kind = Self.control
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    kind = Self.userDefined
                }
            }
            tokens.append(.string(token))
            types.append(.int32(kind))
        }

        var m = Metadata()
        m["tokenizer.ggml.model"] = .string("gpt2")
        m["tokenizer.ggml.pre"] = .string(pre)
        m["tokenizer.ggml.tokens"] = .array(tokens, elementType: .string)
        m["tokenizer.ggml.token_type"] = .array(types, elementType: .int32)
        let merges = try Self.merges(model["merges"], file: path)
        if !merges.isEmpty {
            m["tokenizer.ggml.merges"] = .array(merges.map { .string($0) }, elementType: .string)
        }
        let special = try GGUFExportSpecialTokens(
            directory: directory, tokenizer: root, addedByContent: addedByContent,
            configuration: configuration, vocabularySize: n)
        for (k, v) in special.metadata { m[k] = v }
        metadata = m
    }

    /// The converter's `does_token_look_special`.
    static func looksSpecial(_ t: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(t)
            || (t.hasPrefix("<|") && t.hasSuffix("|>"))
            || (t.hasPrefix("<\u{FF5C}") && t.hasSuffix("\u{FF5C}>"))
            || (t.hasPrefix("<unused") && t.hasSuffix(">"))
    }

    /// `model.merges` as `"a b"` strings: legacy strings as they are; `[a, b]` pairs joined
    /// with a space after spaces inside a or b became U+0120 (gguf-py `SpecialVocab`).
    static func merges(_ node: MetadataValue?, file: String) throws(FormatError) -> [String] {
        guard let list = node?.arrayValue else { return [] }
        var out: [String] = []
        out.reserveCapacity(list.count)
        for (i, e) in list.enumerated() {
            if let s = e.stringValue {
                out.append(s)
            } else if let pair = e.arrayValue, pair.count == 2, let a = pair[0].stringValue,
                let b = pair[1].stringValue
            {
                func encode(_ s: String) -> String {
                    s.replacingOccurrences(of: " ", with: "\u{120}")
                }
                out.append(encode(a) + " " + encode(b))
            } else {
                throw FormatError(
                    .invalid("expected \"a b\" or [a, b]"), file: file, field: "model.merges[\(i)]")
            }
        }
        return out
    }

    /// llama.cpp's pre-tokenizer name for a `pre_tokenizer` definition.
    static func preTokenizerName(_ pre: MetadataValue, file: String) throws(FormatError) -> String {
        func refuse() -> FormatError {
            FormatError(
                .unsupported(
                    "pre-tokenizer \(pre.jsonString()): no llama.cpp pre-tokenizer splits text this way"
                ),
                file: file, field: "pre_tokenizer")
        }
        func byteLevel(_ n: MetadataValue, regex: Bool) -> Bool {
            n["type"]?.stringValue == "ByteLevel"
                && (n["add_prefix_space"]?.boolValue ?? true) == false
                && (n["use_regex"]?.boolValue ?? true) == regex
        }
        func split(_ n: MetadataValue) -> String? {
            guard n["type"]?.stringValue == "Split", n["invert"]?.boolValue != true,
                (n["behavior"]?.stringValue ?? "Isolated") == "Isolated"
            else { return nil }
            return n["pattern"]?["Regex"]?.stringValue
        }
        if byteLevel(pre, regex: true) { return "gpt-2" }
        guard pre["type"]?.stringValue == "Sequence", let steps = pre["pretokenizers"]?.arrayValue
        else { throw refuse() }
        if steps.count == 1, byteLevel(steps[0], regex: true) { return "gpt-2" }
        guard steps.count == 2 else { throw refuse() }
        if byteLevel(steps[1], regex: false), let regex = split(steps[0]) {
            switch regex {
            case llama3Regex: return "llama-bpe"
            case qwen2Regex: return "qwen2"
            case gpt2Regex: return "gpt-2"
            default: throw refuse()
            }
        }
        // SmolLM: every digit alone, then GPT-2's split (llama.cpp's `smollm`).
        if steps[0]["type"]?.stringValue == "Digits",
            steps[0]["individual_digits"]?.boolValue == true,
            byteLevel(steps[1], regex: true)
        {
            return "smollm"
        }
        throw refuse()
    }
}

import Formats

/// `ckpt verify --tokenizer REF CAND`: do two tokenizers give the same ids on a probe corpus
/// (English, code, numbers, whitespace runs, emoji, CJK)?
///
/// A converter that embeds a vocabulary (GGUF) or copies `tokenizer.json` can lose merges,
/// added tokens or the pre-tokenizer; the model's logits then look fine on ids and the text is
/// still tokenized wrongly. This check catches that before anyone generates text.
///
/// ```swift
/// let r = try TokenizerVerification.run(reference: "SmolLM2-135M", candidate: "smol.gguf")
/// if let m = r.firstMismatch { print(m.text, m.reference, m.candidate) }
/// ```
public struct TokenizerVerification: Sendable, Equatable {
    /// Probe texts compared.
    public var texts: Int
    /// Texts on which both gave the same ids.
    public var agreeing: Int
    /// Ids the reference gave over all texts.
    public var tokens: Int
    /// The first text on which they differ, with both id lists.
    public var firstMismatch: TokenizerComparison.Mismatch?

    /// Fraction of texts with identical ids.
    public var agreement: Double { texts == 0 ? 1 : Double(agreeing) / Double(texts) }
    /// Whether every text gave identical ids.
    public var passed: Bool { agreeing == texts }

    /// Compares `reference` and `candidate` on `texts`, without and with special tokens
    /// (BOS/EOS handling is part of what a converter must keep).
    public static func compare(
        _ reference: any Tokenizer, _ candidate: any Tokenizer,
        texts: [String] = TokenizerComparison.probeCorpus
    ) -> TokenizerVerification {
        var result = TokenizerVerification(texts: 0, agreeing: 0, tokens: 0, firstMismatch: nil)
        for special in [false, true] {
            for text in texts {
                let a = reference.encode(text, addSpecialTokens: special)
                let b = candidate.encode(text, addSpecialTokens: special)
                result.texts += 1
                result.tokens += a.count
                if a == b {
                    result.agreeing += 1
                } else if result.firstMismatch == nil {
                    result.firstMismatch = .init(text: text, reference: a, candidate: b)
                }
            }
        }
        return result
    }

    /// Loads both tokenizers (a model directory's `tokenizer.json`, a `tokenizer.json`, or a
    /// GGUF's vocabulary) and compares them.
    /// - Throws: `FormatError` when a tokenizer is missing or malformed.
    public static func run(reference: String, candidate: String) throws(FormatError)
        -> TokenizerVerification
    {
        let a = try Tokenizers.load(model: reference)
        let b = try Tokenizers.load(model: candidate)
        return compare(a, b)
    }

    /// The index of the first id that differs (the shorter list's length when one is a prefix).
    public static func firstDifference(_ a: [Int], _ b: [Int]) -> Int {
        a.indices.first { $0 < b.count && a[$0] != b[$0] } ?? min(a.count, b.count)
    }

    /// `{"texts", "agreeing", "agreement", "tokens", "passed", "first_mismatch"}`.
    public var json: MetadataValue {
        var o = Metadata(minimumCapacity: 6)
        o["texts"] = .int64(Int64(texts))
        o["agreeing"] = .int64(Int64(agreeing))
        o["agreement"] = .float64(agreement)
        o["tokens"] = .int64(Int64(tokens))
        o["passed"] = .bool(passed)
        if let m = firstMismatch {
            func ids(_ x: [Int]) -> MetadataValue { .array(x.map { .int64(Int64($0)) }) }
            o["first_mismatch"] = .object([
                "text": .string(m.text), "reference": ids(m.reference),
                "candidate": ids(m.candidate),
                "index": .int64(Int64(Self.firstDifference(m.reference, m.candidate))),
            ])
        } else {
            o["first_mismatch"] = .null
        }
        return .object(o)
    }

    /// A readable report: the agreement, then the first differing text and ids.
    public var table: String {
        var lines = ["texts agreeing  \(agreeing)/\(texts) (\(tokens) reference tokens)"]
        if let m = firstMismatch {
            let i = Self.firstDifference(m.reference, m.candidate)
            lines.append("first mismatch  \(m.text.debugDescription)")
            lines.append("  at id #\(i): reference \(m.reference) vs candidate \(m.candidate)")
            lines.append("FAILED: the tokenizers differ")
        } else {
            lines.append("passed")
        }
        return lines.joined(separator: "\n")
    }
}

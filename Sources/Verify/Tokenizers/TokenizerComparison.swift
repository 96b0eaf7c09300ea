/// Compares two tokenizers text by text: the tokenizer parity check (`ckpt verify
/// --tokenizer REF CAND`), e.g. a `tokenizer.json` against the vocabulary a converter
/// embedded in a GGUF.
public enum TokenizerComparison {
    /// The first text on which two tokenizers disagree, with both id lists.
    public struct Mismatch: Sendable, Equatable {
        /// The probe text, as given.
        public var text: String
        /// The reference tokenizer's ids for `text`.
        public var reference: [Int]
        /// The candidate tokenizer's ids for `text`.
        public var candidate: [Int]
    }

    /// A probe corpus covering what usually breaks: whitespace runs, tabs and newlines,
    /// contractions, digit groups, code, accents, CJK, emoji sequences (llama.cpp's
    /// pre-tokenizer check string among them).
    public static let probeCorpus: [String] = [
        "Hello world", " Hello  world ", "The quick brown fox jumps over the lazy dog.",
        "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like tea?",
        "def f(x):\n\treturn x * 2  # double\n\n\nprint(f(21))\n",
        "if (a != b && c >= 3) { x += y; }",
        "3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3",
        "1234567890 3.14159 -42 1e10 0x1F",
        "a  b   c    d\t\te\n\nf \n g\r\nh", "   leading", "trailing   ",
        "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n",
        "🚀 (normal) 😶\u{200d}🌫️ (multiple emojis concatenated) ✅ 🦙🦙", "我想在apple工作1314151天～",
        "日本語のテキストと한국어 텍스트", "Café naïve résumé Ångström e\u{301}",
        "нещо на Български ''''''```````\"\"\"\"......!!!!!!??????", "កាន់តែពិសេសអាច😁 ?",
        "MiXeD CaSe WoRdS and ALLCAPS", String(repeating: "supercalifragilistic", count: 8),
    ]

    /// The first text of `texts` on which `reference` and `candidate` give different ids,
    /// or nil when they agree on all of them.
    public static func firstMismatch(
        _ reference: any Tokenizer, _ candidate: any Tokenizer, texts: [String] = probeCorpus,
        addSpecialTokens: Bool = false
    ) -> Mismatch? {
        for text in texts {
            let a = reference.encode(text, addSpecialTokens: addSpecialTokens)
            let b = candidate.encode(text, addSpecialTokens: addSpecialTokens)
            if a != b { return Mismatch(text: text, reference: a, candidate: b) }
        }
        return nil
    }
}

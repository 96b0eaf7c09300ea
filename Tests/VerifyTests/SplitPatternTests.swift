import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

@Suite("Split regexes match Oniguruma as tokenizers runs it")
struct SplitPatternTests {
    /// `Split(Regex(pattern), "isolated").pre_tokenize_str(text)` pieces recorded by
    /// make_tokenizers.py for the corpus and the random strings.
    static let recorded: (texts: [String], patterns: [String: [[String]]]) = {
        guard
            let data = FileManager.default.contents(
                atPath: TestPaths.fixture("tokenizers/expected.json")),
            let root = try? JSON.parse(String(decoding: data, as: UTF8.self)),
            let splits = root["_splits"]
        else { return ([], [:]) }
        let texts = (splits["texts"]?.arrayValue ?? []).compactMap(\.stringValue)
        var patterns: [String: [[String]]] = [:]
        for (name, value) in splits["patterns"]?.objectValue ?? [:] {
            patterns[name] = (value.arrayValue ?? []).map {
                ($0.arrayValue ?? []).compactMap(\.stringValue)
            }
        }
        return (texts, patterns)
    }()

    @Test(
        "pieces equal tokenizers' for every recorded text",
        arguments: [
            ("gpt2", SplitPattern.gpt2), ("llama3", .llama3(maxDigits: 3)),
            ("qwen2", .llama3(maxDigits: 1)),
        ])
    func pieces(name: String, pattern: SplitPattern) throws {
        let expected = try #require(Self.recorded.patterns[name])
        #expect(expected.count == Self.recorded.texts.count && expected.count > 100)
        for (text, want) in zip(Self.recorded.texts, expected) {
            let s = Array(text.unicodeScalars)
            let got = SplitBehavior.isolated.apply(s, matches: pattern.matches(in: s)).map {
                String(String.UnicodeScalarView(s[$0]))
            }
            // Compare scalars: Swift's String == would equate canonically equivalent pieces.
            #expect(
                got.map { Array($0.unicodeScalars) } == want.map { Array($0.unicodeScalars) },
                "\(text.debugDescription)")
        }
    }

    @Test("the declared pattern strings are recognised, others refused")
    func recognition() {
        #expect(SplitPattern(regex: SplitPattern.gpt2Source) == .gpt2)
        #expect(SplitPattern(regex: SplitPattern.llama3Source) == .llama3(maxDigits: 3))
        #expect(SplitPattern(regex: SplitPattern.qwen2Source) == .llama3(maxDigits: 1))
        #expect(SplitPattern(regex: #"\p{N}"#) == .singleNumber)
        #expect(SplitPattern(regex: #"\s+"#) == nil)
        #expect(SplitPattern(regex: SplitPattern.llama3Source + "|x") == nil)
    }

    @Test("contractions, whitespace runs and digit groups split as the regexes say")
    func handPicked() {
        func split(_ p: SplitPattern, _ text: String) -> [String] {
            let s = Array(text.unicodeScalars)
            return SplitBehavior.isolated.apply(s, matches: p.matches(in: s)).map {
                String(String.UnicodeScalarView(s[$0]))
            }
        }
        #expect(split(.gpt2, "I'm  ok\n") == ["I", "'m", " ", " ok", "\n"])
        #expect(split(.gpt2, "'RE") == ["'", "RE"])
        #expect(split(.llama3(maxDigits: 3), "'RE 12345") == ["'RE", " ", "123", "45"])
        #expect(split(.llama3(maxDigits: 3), "a \n\n b") == ["a", " \n\n", " b"])
        #expect(split(.llama3(maxDigits: 1), "x=12;\n") == ["x", "=", "1", "2", ";\n"])
    }
}

@Suite("Split behaviours")
struct SplitBehaviorTests {
    @Test(
        "each behaviour places the delimiters as tokenizers does",
        arguments: [
            (SplitBehavior.isolated, ["a", "-", "b", "-", "-", "c"]),
            (.removed, ["a", "b", "c"]),
            (.mergedWithPrevious, ["a-", "b-", "-", "c"]),
            (.mergedWithNext, ["a", "-b", "-", "-c"]),
            (.contiguous, ["a", "-", "b", "--", "c"]),
        ])
    func behaviour(behavior: SplitBehavior, expected: [String]) {
        let s = Array("a-b--c".unicodeScalars)
        let matches = s.indices.filter { s[$0] == "-" }.map { $0..<($0 + 1) }
        let got = behavior.apply(s, matches: matches).map {
            String(String.UnicodeScalarView(s[$0]))
        }
        #expect(got == expected)
    }
}

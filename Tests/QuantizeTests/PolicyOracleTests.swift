import Foundation
import Formats
import Testing
import TestSupport

@testable import Quantize

/// The policies against the real tools' own choices, recorded by
/// Tests/fixtures/make_llama_policy.py (llama.cpp's `llama_model_quantize` on tiny tied and
/// untied LLaMAs) and make_mlx_policy.py (mlx-lm 0.32's `quantize_model`).
@Suite("Quantization policies against llama.cpp and mlx-lm")
struct PolicyOracleTests {
    static func fixture(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("policy/\(name)")))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func shapes(_ list: Any?) throws -> [(String, [Int])] {
        try #require(list as? [[Any]]).compactMap { pair in
            guard let n = pair.first as? String, let s = pair.last as? [Int] else { return nil }
            return (n, s)
        }
    }

    static let llamaCases: [(String, String)] = ["untied", "tied"].flatMap { m in
        ["Q2_K", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "Q5_1"].map { (m, $0) }
    }

    @Test("every tensor gets the type llama.cpp's llama_model_quantize gives it", arguments: llamaCases)
    func llama(model: String, preset: String) throws {
        let entry = try #require(try Self.fixture("llama_quantize.json")[model] as? [String: Any])
        let info = try #require(entry["info"] as? [String: Any])
        let tensors = try Self.shapes(entry["tensors"]).map { GGUFTensorShape(name: $0.0, shape: $0.1) }
        let expected = try #require(entry[preset] as? [String: String])
        let shape = GGUFModelShape(
            architecture: try #require(info["architecture"] as? String),
            layerCount: try #require(info["layers"] as? Int), headCount: try #require(info["heads"] as? Int),
            headCountKV: try #require(info["kv_heads"] as? Int))
        // The oracle's names are llama-quantize's: Q4_0 etc. as file types (not --pure).
        let choices = try LlamaQuantizeRules.choose(
            preset: try #require(GGUFPreset(name: preset)), tensors: tensors, model: shape)
        #expect(choices.count == expected.count)
        for c in choices {
            let got: String = switch c.type {
            case .keep: "F32"  // the source tensors are F32
            case .ggml(let g): g.name
            case .affine: "affine"
            }
            #expect(got == expected[c.name], "\(preset) \(c.name)")
        }
    }

    @Test("Linear/Embedding layers get the bits mlx-lm's quantize_model gives them",
          arguments: ["default_g64", "default_g128", "mixed_2_6", "mixed_3_4", "mixed_3_6", "mixed_4_6"])
    func mlx(name: String) throws {
        let root = try Self.fixture("mlx_lm.json")
        let tensors = try Self.shapes(root["tensors"])
        let expected = try #require(root[name] as? [String: [Int]])
        let policy = try MLXQuantizationPolicy(
            bits: 4, groupSize: name == "default_g128" ? 128 : 64,
            recipe: name.hasPrefix("mixed") ? MLXRecipe(rawValue: name) : nil, layerCount: 16)
        var got: [String: [Int]] = [:]
        for (n, s) in tensors {
            if case .affine(let b, let g) = policy.choose(name: n, shape: s, dtype: .dense(.f32)) {
                got[String(n.dropLast(".weight".count))] = [b, g]
            }
        }
        #expect(got == expected)
    }
}

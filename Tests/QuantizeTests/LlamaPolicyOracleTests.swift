import Foundation
import Testing
import Formats
import TestSupport
@testable import Quantize

@Suite("llama-quantize oracle")
struct LlamaPolicyOracleTests {
    static let cases: [(String, String)] = ["untied", "tied"].flatMap { m in
        ["Q2_K", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "Q5_1"].map { (m, $0) }
    }

    @Test("LlamaQuantizePolicy gives every tensor the type llama.cpp's llama_model_quantize gives it",
          arguments: cases)
    func matchesLlamaCpp(_ model: String, _ preset: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("policy/llama_quantize.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entry = try #require(root[model] as? [String: Any])
        let info = try #require(entry["info"] as? [String: Any])
        let tensors = try #require(entry["tensors"] as? [[Any]]).map { pair in
            TensorInfo(name: pair[0] as! String, type: .dense(.f32), shape: pair[1] as! [Int], byteCount: 0)
        }
        let expected = try #require(entry[preset] as? [String: String])
        let m = GGUFModelInfo(architecture: info["architecture"] as! String, layerCount: info["layers"] as! Int,
                              headCount: info["heads"] as! Int, headCountKV: info["kv_heads"] as! Int)
        let plan = try LlamaQuantizePolicy(preset: try #require(GGUFPreset(name: preset)), model: m).plan(tensors)
        for (t, c) in zip(tensors, plan.choices) {
            let got: String = switch c {
            case .keep: "F32"  // the source tensors are F32
            case .ggml(let g): g.name
            case .affine: "affine"
            }
            #expect(got == expected[t.name], "\(t.name)")
        }
    }
}

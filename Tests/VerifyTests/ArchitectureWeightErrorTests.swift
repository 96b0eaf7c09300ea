import Compute
import Formats
import Foundation
import TestSupport
import Testing

@testable import Verify

/// A source that hides, adds or reshapes tensors of a real one, to build broken models.
struct AlteredSource: TensorSource {
    let base: any TensorSource
    var drop: Set<String> = []
    var rename: [String: String] = [:]
    var reshape: [String: [Int]] = [:]

    var format: CheckpointFormat { base.format }
    var metadata: Metadata { base.metadata }
    var tensors: [TensorInfo] {
        base.tensors.filter { !drop.contains($0.name) }.map { t in
            var t = t
            if let n = rename[t.name] { t.name = n }
            if let s = reshape[t.name] { t.shape = s }
            return t
        }
    }
    func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        let original = rename.first { $0.value == tensor.name }?.key ?? tensor.name
        guard let t = base.tensors.first(where: { $0.name == original }) else {
            throw FormatError(.invalid("no tensor"), field: tensor.name)
        }
        return try base.bytes(of: t)
    }
}

@Suite("Weight checks before any graph is built")
struct ArchitectureWeightErrorTests {
    static let dir = TestPaths.fixture("models/llama_gqa")
    static let gguf = TestPaths.fixture("models/llama_gqa.gguf")

    func loadError(_ source: any TensorSource, file: String = "m") -> FormatError? {
        do {
            _ = try ModelRegistry.load(source: source, file: file)
            return nil
        } catch { return error }
    }

    @Test("A missing tensor is an error naming it")
    func missing() throws {
        let name = "model.layers.1.mlp.up_proj.weight"
        let e = try #require(
            loadError(AlteredSource(base: try Checkpoint.open(Self.dir), drop: [name])))
        #expect(e.field == name && e.file == "m")
        #expect(e.description.contains("missing tensor '\(name)'"))
    }

    @Test("An extra tensor is an error naming it")
    func extra() throws {
        let source = AlteredSource(
            base: try Checkpoint.open(Self.dir),
            rename: ["model.layers.1.mlp.up_proj.weight": "model.layers.1.mlp.up_proj.weight2"])
        let e = try #require(loadError(source))
        // The renamed tensor is both missing under its name and extra under the new one;
        // missing is reported first.
        #expect(e.field == "model.layers.1.mlp.up_proj.weight")
        #expect(loadError(AlteredSource(base: try Checkpoint.open(Self.gguf))) == nil)
    }

    @Test("An unexpected additional tensor is reported")
    func unexpected() throws {
        // Layer 1's tensors are extra for a 1-layer configuration.
        var config = try ModelDirectory(path: Self.dir).configuration
        config["num_hidden_layers"] = .int64(1)
        struct WithConfig: TensorSource {
            let base: any TensorSource
            let metadata: Metadata
            var format: CheckpointFormat { base.format }
            var tensors: [TensorInfo] { base.tensors }
            func bytes(of t: TensorInfo) throws(FormatError) -> ByteSlice { try base.bytes(of: t) }
        }
        let e = try #require(
            loadError(WithConfig(base: try Checkpoint.open(Self.dir), metadata: config)))
        #expect(e.description.contains("unexpected tensors"))
        #expect(e.field?.hasPrefix("model.layers.1.") == true)
    }

    @Test("A weight whose shape disagrees with config.json is an error with both shapes")
    func wrongShape() throws {
        var config = try ModelDirectory(path: Self.dir).configuration
        config["intermediate_size"] = .int64(32)
        struct WithConfig: TensorSource {
            let base: any TensorSource
            let metadata: Metadata
            var format: CheckpointFormat { base.format }
            var tensors: [TensorInfo] { base.tensors }
            func bytes(of t: TensorInfo) throws(FormatError) -> ByteSlice { try base.bytes(of: t) }
        }
        let e = try #require(
            loadError(WithConfig(base: try Checkpoint.open(Self.dir), metadata: config)))
        #expect(e.field == "model.layers.0.mlp.gate_proj.weight")
        #expect(e.description.contains("[64, 64], expected [32, 64]"))
    }

    @Test(
        "Hostile configurations are errors naming the key",
        arguments: [
            ("num_attention_heads", MetadataValue.int64(3)),  // 2 kv heads do not divide 3
            ("hidden_size", .int64(-1)),
            ("num_hidden_layers", .int64(1 << 40)),
            ("head_dim", .int64(15)),
            (
                "rope_parameters",
                .object(["rope_type": .string("yarn"), "rope_theta": .float64(1e4)])
            ),
            ("hidden_act", .string("gelu")),
            ("vocab_size", .string("many")),
        ])
    func hostileConfig(key: String, value: MetadataValue) throws {
        var config = try ModelDirectory(path: Self.dir).configuration
        config[key] = value
        #expect(throws: FormatError.self) { try LlamaConfiguration(configuration: config) }
        do {
            _ = try LlamaConfiguration(configuration: config)
        } catch {
            #expect(error.file == "config.json")
            #expect(error.field != nil)
        }
    }

    @Test("Token ids outside the vocabulary are refused before the graph runs")
    func badTokens() throws {
        let model = try ModelRegistry.load(path: Self.dir)
        #expect(throws: ComputeError.self) { _ = try model.forward(tokens: [1, 128]) }
        #expect(throws: ComputeError.self) { _ = try model.forward(tokens: []) }
        #expect(throws: FormatError.self) { _ = try ForwardPass.parseTokens("1,x,3") }
        #expect(try ForwardPass.parseTokens("1, 2,3") == [1, 2, 3])
    }

    @Test("Files that are not models are refused with the reason")
    func notAModel() throws {
        let e = try #require(
            loadError(try Checkpoint.open(TestPaths.fixture("models/tokens.npy")), file: "t.npy"))
        #expect(e.description.contains("no architecture"))
    }
}

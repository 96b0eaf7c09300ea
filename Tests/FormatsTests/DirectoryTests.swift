import Foundation
import Formats
import Testing
import TestSupport

@Suite("Model directories")
struct DirectoryTests {
    static func error(_ path: String) -> FormatError? {
        do { _ = try ModelDirectory(path: path) } catch { return error }
        return nil
    }

    static func writeConfig(_ json: String, in dir: String) throws {
        try json.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
    }

    @Test("a Hugging Face sharded directory: config.json as metadata, tensors through the index")
    func huggingFace() throws {
        let path = TestPaths.fixture("safetensors/sharded")
        let model = try ModelDirectory(path: path)
        #expect(model.format == .hf)
        #expect(model.path == path)
        #expect(model.configuration["hidden_size"] == .int64(3))
        #expect(model.configuration["rope_theta"] == .float64(10000))
        #expect(
            model.configuration.keys.elementsEqual([
                "architectures", "hidden_size", "model_type", "torch_dtype", "rope_theta",
            ]))
        #expect(model.metadata == model.configuration)
        #expect(model.indexFile == path + "/model.safetensors.index.json")
        #expect(
            model.weightFiles == [
                path + "/model-00001-of-00002.safetensors",
                path + "/model-00002-of-00002.safetensors",
            ])
        #expect(
            model.tensors.map(\.name) == [
                "model.embed.weight", "model.norm.weight", "model.layers.0.ids", "lm_head.weight",
            ])
        let ids = try model.bytes(of: try #require(model.tensor(named: "model.layers.0.ids")))
        #expect(
            (0..<3).map { ids.raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) } == [
                1, 2, 3,
            ])
    }

    @Test(
        "an MLX directory: config.json with quantization, or weights whose metadata format is mlx")
    func mlx() throws {
        let dir = TestPaths.temporaryDirectory()
        try Self.writeConfig(
            #"{"model_type": "llama", "quantization": {"group_size": 64, "bits": 4}}"#, in: dir)
        try ST.writeWithUs(
            [("w", .u32, [2], [1, 0, 0, 0, 2, 0, 0, 0])], metadata: [:],
            to: dir + "/model.safetensors")
        let quantized = try ModelDirectory(path: dir)
        #expect(quantized.format == .mlx)
        #expect(quantized.indexFile == nil)
        #expect(quantized.weightFiles == [dir + "/model.safetensors"])
        #expect(quantized.configuration["quantization"]?["bits"] == .int64(4))

        let plain = TestPaths.temporaryDirectory()
        try Self.writeConfig(#"{"model_type": "llama"}"#, in: plain)
        try ST.writeWithUs(
            [("w", .f16, [1], [0, 0x3C])], metadata: ["format": .string("mlx")],
            to: plain + "/model.safetensors")
        #expect(try ModelDirectory(path: plain).format == .mlx)
        try ST.writeWithUs(
            [("w", .f16, [1], [0, 0x3C])], metadata: ["format": .string("pt")],
            to: plain + "/model.safetensors")
        #expect(try ModelDirectory(path: plain).format == .hf)
    }

    @Test("without an index or model.safetensors, every *.safetensors is read in sorted order")
    func globbed() throws {
        let dir = TestPaths.temporaryDirectory()
        try Self.writeConfig("{}", in: dir)
        try ST.writeWithUs(
            [("b", .u8, [1], [2])], metadata: [:], to: dir + "/weights-b.safetensors")
        try ST.writeWithUs(
            [("a", .u8, [1], [1])], metadata: [:], to: dir + "/weights-a.safetensors")
        try "x".write(toFile: dir + "/README.md", atomically: true, encoding: .utf8)
        let model = try ModelDirectory(path: dir)
        #expect(
            model.weightFiles == [dir + "/weights-a.safetensors", dir + "/weights-b.safetensors"])
        #expect(model.tensors.map(\.name) == ["a", "b"])
        #expect(model.tensors.map { model.weights.shard(of: $0.name) } == [0, 1])
        #expect(try model.tensors.map { try model.bytes(of: $0).bytes } == [[1], [2]])
    }

    @Test("missing or malformed config.json, no weights, and PyTorch-only weights are errors")
    func errors() throws {
        let none = TestPaths.temporaryDirectory()
        #expect(Self.error(none)?.message.contains("no config.json") == true)

        let array = TestPaths.temporaryDirectory()
        try Self.writeConfig("[1, 2]", in: array)
        let e = try #require(Self.error(array))
        #expect(e.file == array + "/config.json" && e.offset == 0)

        let bad = TestPaths.temporaryDirectory()
        try Self.writeConfig(#"{"a": 1, "a": 2}"#, in: bad)
        let dup = try #require(Self.error(bad))
        #expect(
            dup.file == bad + "/config.json" && dup.offset == 9 && dup.message.contains("duplicate")
        )

        let empty = TestPaths.temporaryDirectory()
        try Self.writeConfig("{}", in: empty)
        #expect(Self.error(empty)?.message.contains("no weights") == true)

        let torch = TestPaths.temporaryDirectory()
        try Self.writeConfig("{}", in: torch)
        try ST.write([0x50, 0x4B, 3, 4], to: torch + "/pytorch_model.bin")
        // A broken PyTorch file is reported by the PyTorch reader, naming the file.
        let t = try #require(Self.error(torch))
        #expect(t.file == torch + "/pytorch_model.bin")

        // A broken shard's error names the shard.
        let broken = TestPaths.temporaryDirectory()
        try Self.writeConfig("{}", in: broken)
        try ST.write([1, 2, 3], to: broken + "/model.safetensors")
        #expect(Self.error(broken)?.file == broken + "/model.safetensors")
    }

    @Test("what ShardedSafetensorsWriter writes opens as a model directory")
    func writerRoundTrip() throws {
        let dir = TestPaths.temporaryDirectory()
        try Self.writeConfig(#"{"model_type": "tiny"}"#, in: dir)
        _ = try SafetensorsShardTests.writeSharded(dir, limit: 80)
        let model = try ModelDirectory(path: dir)
        #expect(model.format == .hf)
        #expect(model.weightFiles.count == 3)
        #expect(Set(model.tensors.map(\.name)) == Set(SafetensorsShardTests.tensors.map(\.0)))
    }

    @Test(
        "all-MiniLM-L6-v2 opens as an hf directory with the file's tensors",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func realModel() throws {
        let path = try #require(TestPaths.model("all-minilm-l6-v2"))
        let model = try ModelDirectory(path: path)
        let file = try SafetensorsFile(path: path + "/model.safetensors")
        #expect(model.format == .hf)
        #expect(model.configuration["model_type"] == .string("bert"))
        #expect(model.configuration["hidden_size"] == .int64(384))
        #expect(model.tensors.map(\.name) == file.tensors.map(\.name))
        #expect(model.tensors.map(\.shape) == file.tensors.map(\.shape))
        let embeddings = try #require(model.tensor(named: "embeddings.word_embeddings.weight"))
        #expect(embeddings.shape == [30522, 384] && embeddings.type == .dense(.f32))
    }
}

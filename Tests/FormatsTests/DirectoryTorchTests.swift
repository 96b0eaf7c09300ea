import Foundation
import Testing
import TestSupport

@testable import Formats

@Suite("Model directories with PyTorch weights")
struct DirectoryTorchTests {
    static let bin = TestPaths.fixture("torch/pytorch_model.bin")

    func directory(_ files: [String: String]) throws -> String {
        let dir = TestPaths.temporaryDirectory()
        try #"{"model_type": "toy"}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        for (name, source) in files {
            try FileManager.default.copyItem(atPath: source, toPath: dir + "/" + name)
        }
        return dir
    }

    @Test("a pytorch_model.bin directory lists the same tensors and bytes as the file itself")
    func single() throws {
        let dir = try directory(["pytorch_model.bin": Self.bin])
        let model = try ModelDirectory(path: dir)
        let file = try TorchCheckpoint(path: Self.bin)
        #expect(model.format == .hf)
        #expect(model.weightFiles == [dir + "/pytorch_model.bin"])
        #expect(model.tensors.map(\.name) == file.tensors.map(\.name))
        #expect(!model.tensors.isEmpty)
        for (a, b) in zip(model.tensors, file.tensors) {
            #expect(a.shape == b.shape && a.type == b.type)
            #expect(try model.bytes(of: a) == file.bytes(of: b))
        }
    }

    @Test("sharded .bin weights through pytorch_model.bin.index.json, stale entries rejected")
    func sharded() throws {
        let file = try TorchCheckpoint(path: Self.bin)
        let names = file.tensors.map(\.name)
        let map = names.map { "\"\($0)\": \"pytorch_model-00001-of-00001.bin\"" }.joined(separator: ", ")
        let dir = try directory(["pytorch_model-00001-of-00001.bin": Self.bin])
        try #"{"metadata": {}, "weight_map": {\#(map)}}"#.write(
            toFile: dir + "/pytorch_model.bin.index.json", atomically: true, encoding: .utf8)
        let model = try ModelDirectory(path: dir)
        #expect(model.tensors.map(\.name) == names)
        #expect(model.indexFile == dir + "/pytorch_model.bin.index.json")
        #expect(model.format == .hf)

        // An index naming a tensor the shard lacks is an error naming both sides.
        try #"{"weight_map": {\#(map), "ghost.weight": "pytorch_model-00001-of-00001.bin"}}"#.write(
            toFile: dir + "/pytorch_model.bin.index.json", atomically: true, encoding: .utf8)
        do {
            _ = try ModelDirectory(path: dir)
            Issue.record("a stale index must be an error")
        } catch {
            #expect(error.description.contains("ghost.weight"))
            #expect(error.description.contains("pytorch_model-00001-of-00001.bin"))
        }
    }
}

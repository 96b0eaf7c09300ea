import Convert
import Formats
import Foundation
import TestSupport
import Testing

/// Writes small model directories and files with one packaging mistake each.
enum LintFixture {
    typealias Tensor = (name: String, dtype: DType, shape: [Int], bytes: [UInt8])

    static func f32(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    static func bf16(_ values: [Float]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: UInt16($0.bitPattern >> 16).littleEndian, Array.init) }
    }
    static func u32(_ values: [UInt32]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } }

    /// A safetensors file, laid out by hand (header, then the tensors back to back).
    static func safetensors(_ tensors: [Tensor], metadata: [String: String] = [:]) -> [UInt8] {
        var header: Metadata = [:]
        if !metadata.isEmpty { header["__metadata__"] = .object(Metadata(uniqueKeysWithValues: metadata.map { ($0, .string($1)) })) }
        var offset = 0
        for t in tensors {
            header[t.name] = .object([
                "dtype": .string(t.dtype.rawValue), "shape": .array(t.shape.map { .int64(Int64($0)) }),
                "data_offsets": .array([.int64(Int64(offset)), .int64(Int64(offset + t.bytes.count))]),
            ])
            offset += t.bytes.count
        }
        var json = Array(MetadataValue.object(header).jsonString().utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + tensors.flatMap(\.bytes)
    }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func write(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// A directory with config.json and the given files.
    static func directory(config: String = #"{"model_type": "llama", "vocab_size": 8}"#) throws -> String {
        let dir = TestPaths.temporaryDirectory("lint")
        try write(config, dir + "/config.json")
        return dir
    }

    static func index(_ map: [String: String]) -> String {
        let entries = map.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        return #"{"metadata": {}, "weight_map": {"# + entries + "}}"
    }

    static let w: Tensor = ("a.weight", .f32, [2, 2], f32([1, 2, 3, 4]))
    static let v: Tensor = ("b.weight", .f32, [2, 2], f32([5, 6, 7, 8]))
}

@Suite("ckpt lint: packaging mistakes")
struct LintTests {
    func codes(_ report: LintReport, _ severity: LintSeverity? = nil) -> [String] {
        report.findings.filter { severity == nil || $0.severity == severity }.map(\.code)
    }

    @Test("A clean sharded directory has no errors")
    func clean() throws {
        let dir = try LintFixture.directory()
        try LintFixture.write(LintFixture.safetensors([LintFixture.w]), dir + "/model-00001-of-00002.safetensors")
        try LintFixture.write(LintFixture.safetensors([LintFixture.v]), dir + "/model-00002-of-00002.safetensors")
        try LintFixture.write(
            LintFixture.index(["a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"]),
            dir + "/model.safetensors.index.json")
        let r = try Linter.lint(dir)
        #expect(codes(r, .error) == ["no-tokenizer"])
        #expect(r.tensorsScanned == 2)
    }

    @Test("A stale index entry, a missing entry, a missing shard and a stray shard are each reported")
    func index() throws {
        let dir = try LintFixture.directory()
        try LintFixture.write(LintFixture.safetensors([LintFixture.w, LintFixture.v]), dir + "/s1.safetensors")
        try LintFixture.write(LintFixture.safetensors([("c.weight", .f32, [1], LintFixture.f32([1]))]), dir + "/stray.safetensors")
        // a.weight listed in the wrong shard, b.weight not listed, d.weight in a shard that is absent.
        try LintFixture.write(
            LintFixture.index(["a.weight": "s2.safetensors", "d.weight": "gone.safetensors", "b.weight": "s1.safetensors"]),
            dir + "/model.safetensors.index.json")
        var r = try Linter.lint(dir)
        #expect(r.findings.contains { $0.code == "missing-shard" && $0.file.hasSuffix("gone.safetensors") })
        #expect(r.findings.contains { $0.code == "missing-shard" && $0.file.hasSuffix("s2.safetensors") })
        #expect(r.findings.contains { $0.code == "stale-index" && $0.tensor == "a.weight" })
        #expect(r.findings.contains { $0.code == "stray-shard" && $0.severity == .warning && $0.file.hasSuffix("stray.safetensors") })
        // An index that leaves a shard's tensor out.
        try LintFixture.write(LintFixture.index(["a.weight": "s1.safetensors"]), dir + "/model.safetensors.index.json")
        r = try Linter.lint(dir)
        #expect(r.findings.contains { $0.code == "missing-index-entry" && $0.tensor == "b.weight" })
        #expect(!r.passed)
    }

    @Test("A tensor in two shards is an error naming both")
    func duplicates() throws {
        let dir = try LintFixture.directory()
        try LintFixture.write(LintFixture.safetensors([LintFixture.w]), dir + "/one.safetensors")
        try LintFixture.write(LintFixture.safetensors([LintFixture.w, LintFixture.v]), dir + "/two.safetensors")
        let r = try Linter.lint(dir)
        let dup = try #require(r.findings.first { $0.code == "duplicate-tensor" })
        #expect(dup.tensor == "a.weight")
        #expect(dup.message.contains("one.safetensors") && dup.file.hasSuffix("two.safetensors"))
        #expect(codes(r).contains("no-index"))
    }

    @Test("NaN and Inf are errors, an all-zero weight a warning, F16 overflow a warning or an error for an F16 target")
    func values() throws {
        let dir = TestPaths.temporaryDirectory("lint")
        let path = dir + "/m.safetensors"
        try LintFixture.write(
            LintFixture.safetensors([
                ("nan.weight", .f32, [4], LintFixture.f32([1, .nan, .infinity, 2])),
                ("zero.weight", .f32, [2, 2], LintFixture.f32([0, 0, -0.0, 0])),
                ("big.weight", .bf16, [2], LintFixture.bf16([70000, 1])),
                ("fine.weight", .f32, [2], LintFixture.f32([65504, -3])),
            ]), path)
        var r = try Linter.lint(path)
        let nan = try #require(r.findings.first { $0.code == "non-finite" })
        #expect(nan.tensor == "nan.weight" && nan.severity == .error)
        #expect(nan.message.contains("1 NaN and 1 Inf") && nan.message.contains("index 1"))
        #expect(r.findings.contains { $0.code == "all-zero" && $0.tensor == "zero.weight" && $0.severity == .warning })
        let big = try #require(r.findings.first { $0.code == "f16-overflow" })
        #expect(big.tensor == "big.weight" && big.severity == .warning)
        #expect(!r.findings.contains { $0.tensor == "fine.weight" })
        r = try Linter.lint(path, options: LintOptions(targetDType: .f16))
        #expect(r.findings.contains { $0.code == "f16-overflow" && $0.severity == .error })
        r = try Linter.lint(path, options: LintOptions(scanValues: false))
        #expect(r.findings.isEmpty && r.tensorsScanned == 0)
    }

    @Test("Added tokens lost from tokenizer.json, and a chat vocabulary without a template")
    func tokenizer() throws {
        let dir = try LintFixture.directory()
        try LintFixture.write(LintFixture.safetensors([LintFixture.w]), dir + "/model.safetensors")
        try LintFixture.write(
            #"{"added_tokens": [{"id": 3, "content": "<|im_start|>"}], "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "<|im_start|>": 3}}}"#,
            dir + "/tokenizer.json")
        try LintFixture.write(
            #"{"added_tokens_decoder": {"3": {"content": "<|im_start|>"}, "4": {"content": "<|im_end|>"}}}"#,
            dir + "/tokenizer_config.json")
        var r = try Linter.lint(dir)
        let lost = try #require(r.findings.first { $0.code == "added-tokens-lost" })
        #expect(lost.message.contains("<|im_end|>") && lost.severity == .error)
        #expect(r.findings.contains { $0.code == "no-chat-template" && $0.severity == .warning })
        try LintFixture.write(
            #"{"added_tokens_decoder": {"3": {"content": "<|im_start|>"}}, "chat_template": "{{ x }}"}"#,
            dir + "/tokenizer_config.json")
        r = try Linter.lint(dir)
        #expect(codes(r) == [])
        // Ids beyond config.json's vocab_size (8).
        try LintFixture.write(
            #"{"added_tokens": [{"id": 9, "content": "<x>"}], "model": {"type": "BPE", "vocab": {"a": 0}}}"#,
            dir + "/tokenizer.json")
        r = try Linter.lint(dir)
        #expect(r.findings.contains { $0.code == "tokenizer-vocab" && $0.message.contains("vocab_size is 8") })
    }

    @Test("An MLX quantization config that does not match the packed tensors names the setting that fits")
    func quantization() throws {
        // 8-bit, group 64: a [2, 128] weight packs into [2, 32] words with 2 groups per row.
        let config = #"{"model_type": "llama", "quantization": {"group_size": 64, "bits": 4}, "quantization_config": {"group_size": 64, "bits": 4}}"#
        let dir = try LintFixture.directory(config: config)
        try LintFixture.write(
            LintFixture.safetensors([
                ("l.weight", .u32, [2, 32], LintFixture.u32(Array(repeating: 0, count: 64))),
                ("l.scales", .f32, [2, 2], LintFixture.f32([1, 1, 1, 1])),
                ("l.biases", .f32, [2, 2], LintFixture.f32([0, 0, 0, 0])),
                ("m.scales", .f32, [2, 2], LintFixture.f32([1, 1, 1, 1])),
            ]), dir + "/model.safetensors")
        var r = try Linter.lint(dir)
        let bad = try #require(r.findings.first { $0.code == "quantization-mismatch" && $0.tensor == "l.weight" })
        #expect(bad.message.contains("fits 4 bits, group 128 or 8 bits, group 64"))
        #expect(r.findings.contains { $0.code == "quantization-mismatch" && $0.tensor == "m.scales" })
        // The config says quantized, the tensors are plain.
        try LintFixture.write(LintFixture.safetensors([LintFixture.w]), dir + "/model.safetensors")
        r = try Linter.lint(dir)
        #expect(r.findings.contains { $0.code == "quantization-config" && $0.severity == .info && $0.message.contains("no tensor has .scales") })
    }

    /// A GGUF of arch llama with one layer; `mutate` changes metadata and tensors first.
    static func gguf(_ mutate: (inout Metadata, inout [LintFixture.Tensor]) -> Void) throws -> String {
        var m: Metadata = [
            "general.architecture": .string("llama"), "llama.context_length": .uint32(64),
            "llama.embedding_length": .uint32(4), "llama.block_count": .uint32(1),
            "llama.feed_forward_length": .uint32(8), "llama.attention.head_count": .uint32(2),
            "llama.attention.layer_norm_rms_epsilon": .float32(1e-5),
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array((0..<3).map { .string("t\($0)") }, elementType: .string),
        ]
        func t(_ name: String, _ shape: [Int]) -> LintFixture.Tensor {
            (name, .f32, shape, LintFixture.f32((0..<shape.reduce(1, *)).map { Float($0 % 5) + 1 }))
        }
        var tensors = [
            t("token_embd.weight", [3, 4]), t("output_norm.weight", [4]), t("blk.0.attn_norm.weight", [4]),
            t("blk.0.attn_q.weight", [4, 4]), t("blk.0.attn_k.weight", [4, 4]), t("blk.0.attn_v.weight", [4, 4]),
            t("blk.0.attn_output.weight", [4, 4]), t("blk.0.ffn_norm.weight", [4]), t("blk.0.ffn_gate.weight", [8, 4]),
            t("blk.0.ffn_up.weight", [8, 4]), t("blk.0.ffn_down.weight", [4, 8]),
        ]
        mutate(&m, &tensors)
        let path = TestPaths.temporaryDirectory("lint") + "/m.gguf"
        var sink = GGUFWriter(path: path)
        let plan = tensors.map { TensorInfo(name: $0.name, type: .dense($0.dtype), shape: $0.shape, byteCount: $0.bytes.count) }
        try sink.begin(metadata: m, plan: plan)
        for (info, tensor) in zip(plan, tensors) {
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(tensor.bytes.count, 1), alignment: 16)
            defer { buf.deallocate() }
            buf.copyBytes(from: tensor.bytes)
            try sink.write(info, bytes: UnsafeRawBufferPointer(rebasing: buf[0..<tensor.bytes.count]))
        }
        try sink.commit()
        return path
    }

    @Test("A GGUF llama.cpp loads has no errors; wrong key types, extra, missing and misshapen tensors are errors")
    func ggufChecks() throws {
        #expect(codes(try Linter.lint(try Self.gguf { _, _ in }), .error) == [])
        let r = try Linter.lint(
            try Self.gguf { m, t in
                m["llama.context_length"] = .uint64(64)
                m["llama.attention.layer_norm_rms_epsilon"] = .float64(1e-5)
                t.removeAll { $0.name == "blk.0.ffn_up.weight" }
                t.append(("blk.0.extra.weight", .f32, [1], LintFixture.f32([1])))
                t[3] = ("blk.0.attn_q.weight", .f32, [2, 4], LintFixture.f32(Array(repeating: 1, count: 8)))
            })
        #expect(r.findings.contains { $0.code == "gguf-key-type" && $0.message.contains("context_length is UINT64") })
        #expect(r.findings.contains { $0.code == "gguf-key-type" && $0.message.contains("epsilon is FLOAT64") })
        #expect(r.findings.contains { $0.code == "gguf-missing-tensor" && $0.tensor == "blk.0.ffn_up.weight" })
        #expect(r.findings.contains { $0.code == "gguf-extra-tensor" && $0.tensor == "blk.0.extra.weight" })
        #expect(r.findings.contains { $0.code == "gguf-shape" && $0.tensor == "blk.0.attn_q.weight" })
        let vocab = try Linter.lint(try Self.gguf { m, _ in m["tokenizer.ggml.tokens"] = .array([.string("a")], elementType: .string) })
        #expect(vocab.findings.contains { $0.code == "gguf-shape" && $0.tensor == "token_embd.weight" })
        let none = try Linter.lint(try Self.gguf { m, _ in m["tokenizer.ggml.model"] = nil })
        #expect(none.findings.contains { $0.code == "gguf-tokenizer" && $0.severity == .error })
    }

    @Test("The real models lint clean", .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func realModels() throws {
        let minilm = try #require(TestPaths.model("all-minilm-l6-v2"))
        let r = try Linter.lint(minilm)
        #expect(r.passed && r.count(.warning) == 0)
        #expect(r.tensorsScanned > 100)
    }

    @Test("A damaged shard is a finding naming the file and offset, not a crash or a throw")
    func damaged() throws {
        let dir = try LintFixture.directory()
        var bytes = LintFixture.safetensors([LintFixture.w])
        bytes[9] = 0xFF
        try LintFixture.write(bytes, dir + "/model.safetensors")
        let r = try Linter.lint(dir)
        let f = try #require(r.findings.first { $0.code == "unreadable" })
        #expect(f.file.hasSuffix("model.safetensors") && f.message.contains("offset"))
        #expect(throws: FormatError.self) { try Linter.lint(dir + "/absent") }
    }
}

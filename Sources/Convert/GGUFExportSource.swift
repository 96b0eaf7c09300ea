import Foundation
import Formats
import Quantize
import Verify

/// A Hugging Face LLaMA-family model directory (Llama, SmolLM2, Mistral, Qwen2) seen as the
/// GGUF llama.cpp's `convert_hf_to_gguf.py` makes of it (formats-gguf.md §4-5): llama.cpp
/// tensor names, Q/K rows permuted for arch `llama`, 1-D tensors and biases as F32, the
/// tied `lm_head` left out, `rope_freqs.weight` for Llama 3 rope scaling, hparams and the
/// tokenizer as `tokenizer.ggml.*` metadata.
///
/// Why a source: the planner and the pipeline then treat the directory like any GGUF
/// input (presets, `--override`, streaming), and nothing is held beyond one tensor: a
/// tensor that needs no change is the directory's own mapped slice, the others are made
/// one at a time when the pipeline asks for them.
///
/// ```swift
/// let view = try GGUFExportSource(directory: ModelDirectory(path: "SmolLM2-135M"))
/// print(view.metadata["tokenizer.ggml.pre"] ?? .null, view.tensors.count)
/// ```
public struct GGUFExportSource: TensorSource {
    public var format: CheckpointFormat { .gguf }
    public let metadata: Metadata
    public let tensors: [TensorInfo]
    /// The directory read.
    public let directory: ModelDirectory
    /// The architecture written (`llama` for Llama/SmolLM2/Mistral, `qwen2`).
    public let architecture: String
    /// The model configuration, as the engine reads it.
    public let configuration: LlamaConfiguration
    /// Whether `tokenizer.json` normalizes to NFC, which llama.cpp does not do (Qwen2).
    public let tokenizerNormalizesNFC: Bool
    let entries: [String: Entry]
    let transcoding = TranscodingLog()

    /// For an MLX directory, what happened to each affine weight read so far (transcoded
    /// exactly, re-quantized or dequantized), by GGUF tensor name.
    public var notes: [String: String] { transcoding.notes }

    /// How one output tensor is made from the directory.
    enum Entry: Sendable {
        /// A directory tensor; cast to `cast` first when set, rows permuted for RoPE when
        /// `permuteHeads` is set.
        case tensor(TensorInfo, cast: DType?, permuteHeads: Int?)
        /// Generated values (Llama 3 `rope_freqs.weight`), F32.
        case generated([Float])
        /// An MLX affine triple, dequantized or transcoded (`AffineWeight.type`).
        case affine(AffineWeight, permuteHeads: Int?)
    }

    /// Opens the GGUF view of `directory`.
    /// - Parameters:
    ///   - weightType: the dtype of 2-D floating weights (`--dtype`); kept as stored when nil.
    ///   - transcodeTo: for an MLX directory, the block type (Q4_0, Q4_1, Q8_0) its affine
    ///     g32 weights are moved into without re-quantizing where that is exact; otherwise
    ///     they are dequantized (to their scales' dtype, which holds the values exactly).
    ///   - name: `general.name`; the directory's name when nil.
    /// - Throws: `FormatError` for a configuration or tokenizer that cannot be converted
    ///   (unknown architecture, tensor without a llama.cpp name, unsupported pre-tokenizer).
    public init(
        directory: ModelDirectory, weightType: DType? = nil, transcodeTo: GGMLType? = nil,
        name: String? = nil
    ) throws(FormatError) {
        let configFile = directory.path + "/" + ModelDirectory.configurationName
        let config = try LlamaConfiguration(
            configuration: directory.configuration, file: configFile)
        let arch = config.family == .qwen2 ? "qwen2" : "llama"
        self.directory = directory
        self.architecture = arch
        self.configuration = config

        var infos: [TensorInfo] = []
        var entries: [String: Entry] = [:]
        if case .llama3 = config.rope.scaling {
            let freqs = GGUFExportHParams.llama3RopeFactors(config)
            let info = TensorInfo(
                name: LlamaConfiguration.ggufRopeFrequencies, type: .dense(.f32),
                shape: [freqs.count],
                byteCount: 4 * freqs.count)
            infos.append(info)
            entries[info.name] = .generated(freqs)
        }
        let affine = try Self.affineWeights(
            directory, config: config, transcodeTo: transcodeTo, weightType: weightType)
        for t in directory.tensors {
            if t.name.hasSuffix(".rotary_emb.inv_freq")
                || (affine.parts.contains(t.name) && affine.weights[t.name] == nil)
            {
                continue
            }
            if t.name == "lm_head.weight" && config.tieWordEmbeddings { continue }
            let target = LlamaConfiguration.ggufName(t.name)
            guard target != t.name else {
                throw FormatError(
                    .unsupported("tensor without a llama.cpp name for arch \(arch)"),
                    file: directory.path, field: t.name)
            }
            let heads = arch == "llama" ? Self.permutedHeads(t.name, config) : nil
            if let q = affine.weights[t.name] {
                guard let info = TensorInfo(name: target, type: q.type, shape: q.shape) else {
                    throw FormatError(
                        .invalid("shape \(q.shape)"), file: directory.path, field: t.name)
                }
                infos.append(info)
                entries[target] = .affine(q, permuteHeads: heads)
                continue
            }
            guard case .dense(let dtype) = t.type, dtype.isFloatingPoint, dtype.byteSize != nil
            else {
                throw FormatError(
                    .unsupported("\(t.type) tensor (floating point expected)"),
                    file: directory.path, field: t.name)
            }
            // convert_hf_to_gguf.py: 1-D tensors, norms and every non-`.weight` tensor are F32.
            let keepF32 =
                t.shape.count <= 1 || target.hasSuffix("_norm.weight")
                || !target.hasSuffix(".weight")
            let outType: DType = keepF32 ? .f32 : (weightType ?? dtype)
            if let h = heads, let rows = t.shape.first, rows % (2 * h) != 0 {
                throw FormatError(
                    .invalid("\(rows) rows are not \(h) heads of an even size"),
                    file: directory.path, field: t.name)
            }
            guard let info = TensorInfo(name: target, type: .dense(outType), shape: t.shape) else {
                throw FormatError(.invalid("shape \(t.shape)"), file: directory.path, field: t.name)
            }
            guard entries[target] == nil else {
                throw FormatError(
                    .invalid("two tensors map to \(target)"), file: directory.path, field: t.name)
            }
            infos.append(info)
            entries[target] = .tensor(
                t, cast: outType == dtype ? nil : outType, permuteHeads: heads)
        }
        self.tensors = infos
        self.entries = entries

        var m = GGUFExportHParams.metadata(
            architecture: arch, config: config, configuration: directory.configuration,
            name: name ?? URL(fileURLWithPath: directory.path).lastPathComponent,
            fileType: GGUFExportHParams.fileType(infos))
        let tokenizer = try GGUFExportTokenizer(
            directory: directory.path, vocabularySize: config.vocabularySize,
            configuration: directory.configuration)
        for (k, v) in tokenizer.metadata { m[k] = v }
        self.tokenizerNormalizesNFC = tokenizer.normalizesNFC
        self.metadata = m
    }

    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let entry = entries[tensor.name] else {
            throw FormatError(.invalid("no such tensor"), file: directory.path, field: tensor.name)
        }
        switch entry {
        case .generated(let values):
            let buffer = try ByteBuffer.make(count: 4 * values.count, name: tensor.name) { out in
                for (i, v) in values.enumerated() {
                    out.storeBytes(
                        of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                }
            }
            return buffer.all
        case .affine(let q, let heads):
            let made = try affineBytes(q, as: tensor)
            guard let heads else { return made }
            return try ByteBuffer.make(count: tensor.byteCount, name: made.name) {
                out throws(FormatError) in
                Self.permuteRows(made.raw, into: out, rows: tensor.shape.first ?? 1, heads: heads)
            }.all
        case .tensor(let source, let cast, let heads):
            let raw = try directory.bytes(of: source)
            if cast == nil && heads == nil { return raw }
            let name = directory.path + ":" + source.name
            let castBuffer: ByteSlice
            if let cast, case .dense(let from) = source.type {
                castBuffer = try ByteBuffer.make(count: tensor.byteCount, name: name) {
                    out throws(FormatError) in
                    do {
                        try Scalars.convert(raw.raw, from: from, to: cast, into: out)
                    } catch {
                        throw FormatError(.invalid("\(error)"), file: name)
                    }
                }.all
            } else {
                castBuffer = raw
            }
            guard let heads else { return castBuffer }
            return try ByteBuffer.make(count: tensor.byteCount, name: name) {
                out throws(FormatError) in
                Self.permuteRows(
                    castBuffer.raw, into: out, rows: tensor.shape.first ?? 1, heads: heads)
            }.all
        }
    }

    /// The head count whose Q/K rows `name` permutes for arch `llama` (nil: not permuted).
    static func permutedHeads(_ name: String, _ config: LlamaConfiguration) -> Int? {
        if name.hasSuffix("q_proj.weight") || name.hasSuffix("q_proj.bias") {
            return config.headCount
        }
        if name.hasSuffix("k_proj.weight") || name.hasSuffix("k_proj.bias") {
            return config.kvHeadCount
        }
        return nil
    }

    /// `LlamaModel.permute` of convert_hf_to_gguf.py on whole rows: in each head of `D`
    /// rows, output row `2j + i` is input row `i·D/2 + j` (HF's half-split RoPE pairs to
    /// llama.cpp's adjacent pairs). Row bytes are copied, so any dense dtype works.
    static func permuteRows(
        _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer, rows: Int,
        heads: Int
    ) {
        guard rows > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        // The caller checked rows % (2 · heads) == 0 and both buffers hold `rows` rows.
        let rowBytes = src.count / rows
        let perHead = rows / heads, half = perHead / 2
        for h in 0..<heads {
            for j in 0..<half {
                for i in 0..<2 {
                    let from = h * perHead + i * half + j
                    let to = h * perHead + 2 * j + i
                    (d + to * rowBytes).copyMemory(from: s + from * rowBytes, byteCount: rowBytes)
                }
            }
        }
    }
}

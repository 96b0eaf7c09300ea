import Dispatch
import Formats
import Quantize

#if canImport(Glibc)
import Glibc
#endif

/// What a finished conversion did.
public struct ConversionResult: Sendable {
    public var plan: ConversionPlan
    /// The files written (one for single-file formats; shards and side files for directories).
    public var outputFiles: [String]
    public var bytesRead: Int
    public var bytesWritten: Int
    public var seconds: Double
    /// What happened to tensors beyond their planned action, by source name (a transcoding
    /// that turned out exact, or had to re-quantize).
    public var notes: [String: String] = [:]
    /// Per-tensor quantization error, by source name, when the request asked for it.
    public var errors: [String: ErrorReport] = [:]
    /// What `Linter.lintOutput` found in the written output (empty when it is sound).
    public var lint: [LintFinding] = []
}

/// Progress of a running conversion, reported after each tensor.
public struct ConversionProgress: Sendable {
    public var tensorsDone: Int
    public var tensorCount: Int
    public var bytesDone: Int
    public var totalBytes: Int
}

/// Runs conversions: open, plan, stream every tensor through its action into the sink.
public enum Converter {
    /// Opens the source, plans and writes the output. The output appears at the destination
    /// only when complete.
    ///
    /// ```swift
    /// let r = try Converter.convert(ConversionRequest(
    ///     source: "smollm2.gguf", destination: "smollm2.safetensors", dtype: .bf16))
    /// ```
    public static func convert(
        _ request: ConversionRequest, progress: (@Sendable (ConversionProgress) -> Void)? = nil
    ) throws -> ConversionResult {
        let opened = try Checkpoint.open(request.source)
        let (source, planned) = try GGUFExport.prepare(request, source: opened)
        var plan = try Planner.plan(planned, source: source)
        plan.sourceFormat = opened.format
        var result = try run(plan, source: source, progress: progress)
        result.notes.merge(GGUFExport.notes(of: source)) { a, _ in a }
        result.lint = Linter.lintOutput(request.destination)
        return result
    }

    /// Writes a plan made by `Planner.plan` from `source`.
    public static func run(
        _ plan: ConversionPlan, source: any TensorSource,
        progress: (@Sendable (ConversionProgress) -> Void)? = nil
    ) throws -> ConversionResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let source = plan.ggufImport ?? source
        let destination = plan.request.destination
        var files: [String] = []
        var read = 0
        let notes = NoteBook()
        switch plan.format {
        case .safetensors:
            var sink = SafetensorsWriter(path: destination)
            read = try stream(plan, source: source, into: &sink, notes: notes, progress: progress)
            files = [destination]
        case .npz:
            var sink = NPZWriter(path: destination)
            read = try stream(plan, source: source, into: &sink, notes: notes, progress: progress)
            files = [destination]
        case .gguf:
            var sink = GGUFWriter(path: destination, alignment: Int(plan.metadata["general.alignment"]?.intValue ?? 32))
            read = try stream(plan, source: source, into: &sink, notes: notes, progress: progress)
            files = [destination]
        case .mlx, .hf:
            let dir = try StagingDirectory(destination: destination)
            var sink = ShardedSafetensorsWriter(
                directory: dir.path, maxShardBytes: plan.request.maxShardBytes, baseName: "model")
            read = try stream(plan, source: source, into: &sink, notes: notes, progress: progress)
            if let imported = plan.ggufImport {
                let written = try GGUFImport.writeSideFiles(imported, plan: plan, directory: dir.path)
                notes.notes.merge(written) { a, _ in a }
            } else if let modelDir = source as? ModelDirectory {
                try dir.copySideFiles(from: modelDir.path)
                if let q = plan.mlxQuantizationConfig {
                    try dir.writeConfig(ModelConfig.withQuantization(modelDir.configuration, q))
                }
            }
            files = try dir.commit()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return ConversionResult(
            plan: plan, outputFiles: files, bytesRead: read, bytesWritten: plan.outputBytes,
            seconds: seconds, notes: notes.notes, errors: notes.errors)
    }

    /// Streams every planned tensor into `sink`, one at a time, through reusable buffers.
    static func stream<S: TensorSink>(
        _ plan: ConversionPlan, source: any TensorSource, into sink: inout S, notes: NoteBook,
        progress: (@Sendable (ConversionProgress) -> Void)?
    ) throws -> Int {
        try sink.begin(metadata: plan.metadata, plan: plan.outputs)
        let scratch = ScratchBuffers()
        var done = 0
        var read = 0
        let allowNonFinite = plan.request.allowNonFinite
        for (i, t) in plan.tensors.enumerated() {
            let bytes = try source.bytes(of: t.source)
            read += bytes.count
            do {
                try bytes.withBytes { raw throws in
                    switch t.action {
                    case .copy:
                        try sink.write(t.output, bytes: raw)
                    case .cast(let from, let to):
                        if let region = try sink.region(for: t.output) {
                            try Transform.cast(raw, from: from, to: to, into: region, scratch: scratch)
                            break
                        }
                        let out = scratch.output(t.output.byteCount)
                        try Transform.cast(raw, from: from, to: to, into: out)
                        try sink.write(t.output, bytes: UnsafeRawBufferPointer(out))
                    case .dequantize(let from, let to):
                        let floats = scratch.floats(t.output.elementCount)
                        try GGMLCodec.dequantize(from, raw, into: floats)
                        if to == .f32 {
                            try sink.write(t.output, bytes: UnsafeRawBufferPointer(floats))
                        } else {
                            let out = scratch.output(t.output.byteCount)
                            try Transform.cast(UnsafeRawBufferPointer(floats), from: .f32, to: to, into: out)
                            try sink.write(t.output, bytes: UnsafeRawBufferPointer(out))
                        }
                    case .quantizeAffine(let bits, let groupSize, let dtype):
                        let weights = try Transform.dense(raw, type: t.source.type, as: dtype, scratch: scratch)
                        let q = try Affine.quantize(
                            weights, dtype: dtype, shape: t.source.shape, bits: bits, groupSize: groupSize,
                            allowNonFinite: allowNonFinite)
                        if plan.request.errorReport {
                            notes.errors[t.source.name] = try Measure.affine(q, source: raw, type: t.source.type, shape: t.source.shape)
                        }
                        try q.packed.withUnsafeBytes { b throws in try sink.write(t.outputs[0], bytes: b) }
                        try q.scales.withUnsafeBytes { b throws in try sink.write(t.outputs[1], bytes: b) }
                        try q.biases.withUnsafeBytes { b throws in try sink.write(t.outputs[2], bytes: b) }
                    case .transcodeToAffine(let from, let dtype):
                        var (q, exact) = try Transcode.ggmlToAffine(from, blocks: raw, shape: t.source.shape, dtype: dtype)
                        if exact {
                            notes.notes[t.source.name] = "transcoded exactly (no re-quantization)"
                        } else {
                            let weights = try Transform.dense(raw, type: t.source.type, as: dtype, scratch: scratch)
                            q = try Affine.quantize(
                                weights, dtype: dtype, shape: t.source.shape, bits: q.bits, groupSize: 32,
                                allowNonFinite: allowNonFinite)
                            notes.notes[t.source.name] = "re-quantized: \(dtype.rawValue) scales cannot hold the blocks exactly"
                        }
                        if plan.request.errorReport {
                            notes.errors[t.source.name] = try Measure.affine(q, source: raw, type: t.source.type, shape: t.source.shape)
                        }
                        try q.packed.withUnsafeBytes { b throws in try sink.write(t.outputs[0], bytes: b) }
                        try q.scales.withUnsafeBytes { b throws in try sink.write(t.outputs[1], bytes: b) }
                        try q.biases.withUnsafeBytes { b throws in try sink.write(t.outputs[2], bytes: b) }
                    case .quantizeGGML(let type):
                        let floats = try Transform.floats(raw, type: t.source.type, scratch: scratch)
                        let out = scratch.output(t.output.byteCount)
                        try GGMLCodec.quantize(type, UnsafeBufferPointer(floats), into: out, allowNonFinite: allowNonFinite)
                        if plan.request.errorReport {
                            notes.errors[t.source.name] = try Measure.ggml(type, UnsafeRawBufferPointer(out), original: UnsafeBufferPointer(floats))
                        }
                        try sink.write(t.output, bytes: UnsafeRawBufferPointer(out))
                    }
                }
            } catch let e as QuantizeError {
                throw e.named(t.source.name)
            }
            // The source pages are not needed again: let the kernel drop them, so resident
            // memory stays near one tensor rather than growing to the model's size.
            bytes.evict()
            done += t.outputs.reduce(0) { $0 + $1.byteCount }
            progress?(ConversionProgress(
                tensorsDone: i + 1, tensorCount: plan.tensors.count, bytesDone: done,
                totalBytes: plan.outputBytes))
        }
        try sink.commit()
        return read
    }
}

/// Per-tensor notes gathered while streaming.
final class NoteBook {
    var notes: [String: String] = [:]
    var errors: [String: ErrorReport] = [:]
}

/// Reusable output buffers, grown to the largest tensor and kept for the next one.
final class ScratchBuffers {
    private var bytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var floatStorage = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)

    func output(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if bytes.count < count {
            bytes.deallocate()
            bytes = .allocate(byteCount: count, alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: bytes[0..<count])
    }

    func floats(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if floatStorage.count < count {
            floatStorage.deallocate()
            floatStorage = .allocate(capacity: count)
        }
        return UnsafeMutableBufferPointer(rebasing: floatStorage[0..<count])
    }

    deinit {
        bytes.deallocate()
        floatStorage.deallocate()
    }
}

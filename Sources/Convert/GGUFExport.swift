import Foundation
import Formats
import Verify

/// Hugging Face model directory → GGUF that llama.cpp loads (`ckpt convert HF_DIR out.gguf
/// [--gguf-type T]`): the entry point that swaps the directory for its `GGUFExportSource`
/// view and proves the embedded tokenizer right before anything is written.
public enum GGUFExport {
    /// The source and request to plan with: for a GGUF output from a LLaMA-family (`model_type`
    /// llama, mistral, qwen2) `hf` or `mlx` directory, the directory's GGUF view and the request without `--dtype` (which the
    /// view applies to 2-D weights only: norms and biases stay F32, as llama.cpp's converter
    /// keeps them); otherwise both unchanged.
    ///
    /// The tokenizer parity check runs here: the vocabulary about to be embedded, read back
    /// by ckpt's GGUF tokenizer (llama.cpp's rules), must give the same ids as
    /// `tokenizer.json` on `TokenizerComparison.probeCorpus`, with and without special tokens.
    /// - Throws: `FormatError` for a model or tokenizer that cannot be converted,
    ///   `ConvertError` naming the first probe text on which the tokenizers disagree.
    public static func prepare(_ request: ConversionRequest, source: any TensorSource) throws
        -> (source: any TensorSource, request: ConversionRequest)
    {
        guard (try? request.resolvedFormat()) == .gguf, let directory = source as? ModelDirectory,
            directory.format == .hf || directory.format == .mlx,
            let type = directory.configuration["model_type"]?.stringValue,
            ModelRegistry.llamaModelTypes.contains(type) || type == "bert"
        else {
            // Other architectures keep the plain tensor-file rule (names as they are).
            return (source, request)
        }
        if let d = request.dtype, ![.f32, .f16, .bf16].contains(d) {
            throw ConvertError("--dtype must be f32, f16 or bf16, not \(d.rawValue)")
        }
        var planned = request
        planned.dtype = nil
        if type == "bert", directory.format == .hf {
            let view = try GGUFBertExportSource(directory: directory, weightType: request.dtype)
            try checkTokenizer(metadata: view.metadata, directory: directory.path, nfc: false)
            return (view, planned)
        }
        let view = try GGUFExportSource(
            directory: directory, weightType: request.dtype,
            transcodeTo: request.gguf.map(\.preset.baseType))
        try checkTokenizer(view)
        return (view, planned)
    }

    /// Fails with the first probe text on which the embedded vocabulary and
    /// `tokenizer.json` disagree.
    /// - Throws: `ConvertError` naming the text and both id lists.
    public static func checkTokenizer(_ view: GGUFExportSource) throws {
        try checkTokenizer(
            metadata: view.metadata, directory: view.directory.path,
            nfc: view.tokenizerNormalizesNFC)
    }

    /// The parity check of `metadata`'s vocabulary against `directory`'s `tokenizer.json`;
    /// `nfc`: probe with NFC text (the reference normalizes to it, llama.cpp does not).
    static func checkTokenizer(metadata: Metadata, directory: String, nfc: Bool) throws {
        let path = directory + "/tokenizer.json"
        let reference = try Tokenizers.load(tokenizerJSON: path)
        let candidate = try Tokenizers.load(ggufMetadata: metadata, file: "<gguf metadata>")
        var texts = TokenizerComparison.probeCorpus
        if nfc {
            // llama.cpp does not normalize: compare on text already in NFC.
            texts = texts.map(\.precomposedStringWithCanonicalMapping)
        }
        for special in [false, true] {
            if let m = TokenizerComparison.firstMismatch(
                reference, candidate, texts: texts, addSpecialTokens: special)
            {
                throw ConvertError(
                    "tokenizer parity check failed\(special ? " (with special tokens)" : ""): "
                        + "on \(m.text.debugDescription) tokenizer.json gives \(m.reference), "
                        + "the GGUF vocabulary gives \(m.candidate)",
                    file: path)
            }
        }
    }

    /// What happened to an MLX directory's weights on the way (for `ConversionResult.notes`);
    /// empty for other sources.
    public static func notes(of source: any TensorSource) -> [String: String] {
        (source as? GGUFExportSource)?.notes ?? [:]
    }
}

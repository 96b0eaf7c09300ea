import Foundation
import Formats

/// The hyper-parameters of a BERT encoder (all-MiniLM-L6-v2 and other `BertModel`s), from
/// config.json, checked once so the model builds without further validation.
public struct BertConfiguration: Sendable, Hashable, Decodable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var vocabularySize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case layerCount = "num_hidden_layers", headCount = "num_attention_heads"
        case vocabularySize = "vocab_size", maxPositions = "max_position_embeddings"
        case typeVocabularySize = "type_vocab_size", layerNormEpsilon = "layer_norm_eps"
        case hiddenAct = "hidden_act", positionType = "position_embedding_type"
    }

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layerCount = try c.decode(Int.self, forKey: .layerCount)
        headCount = try c.decode(Int.self, forKey: .headCount)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        maxPositions = try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? 512
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? 2
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? 1e-12
        let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        guard act == "gelu" else {
            throw DecodingError.dataCorruptedError(
                forKey: .hiddenAct, in: c,
                debugDescription: "hidden_act '\(act)' is not supported (gelu only)")
        }
        let position = try c.decodeIfPresent(String.self, forKey: .positionType) ?? "absolute"
        guard position == "absolute" else {
            throw DecodingError.dataCorruptedError(
                forKey: .positionType, in: c,
                debugDescription: "position_embedding_type '\(position)' is not supported")
        }
    }

    /// Decodes and checks `config.json`'s members.
    /// - Throws: `FormatError` naming `file` and the key.
    public init(configuration: Metadata, file: String = "config.json") throws(FormatError) {
        let text = MetadataValue.object(configuration).jsonString()
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(text.utf8))
        } catch let DecodingError.keyNotFound(key, _) {
            throw FormatError(.invalid("missing key"), file: file, field: key.stringValue)
        } catch let DecodingError.typeMismatch(_, context) {
            throw LlamaConfiguration.decodingError(context, file)
        } catch let DecodingError.valueNotFound(_, context) {
            throw LlamaConfiguration.decodingError(context, file)
        } catch let DecodingError.dataCorrupted(context) {
            throw LlamaConfiguration.decodingError(context, file)
        } catch {
            throw FormatError(.invalid("\(error)"), file: file)
        }
        let counts: [(Int, String)] = [
            (hiddenSize, "hidden_size"), (intermediateSize, "intermediate_size"),
            (layerCount, "num_hidden_layers"), (headCount, "num_attention_heads"),
            (vocabularySize, "vocab_size"), (maxPositions, "max_position_embeddings"),
            (typeVocabularySize, "type_vocab_size"),
        ]
        for (v, field) in counts where v <= 0 || v > LlamaConfiguration.maxCount {
            throw FormatError(
                .invalid("\(v) is not in 1...\(LlamaConfiguration.maxCount)"), file: file,
                field: field)
        }
        guard hiddenSize % headCount == 0 else {
            throw FormatError(
                .invalid("hidden_size \(hiddenSize) is not a multiple of \(headCount) heads"),
                file: file,
                field: "num_attention_heads")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon >= 0 else {
            throw FormatError(.invalid("\(layerNormEpsilon)"), file: file, field: "layer_norm_eps")
        }
    }

    public var headDimension: Int { hiddenSize / headCount }
}

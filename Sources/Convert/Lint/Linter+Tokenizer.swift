import Formats

/// Tokenizer files of a model directory: present, consistent with each other and with the
/// model's vocabulary, with a chat template where the vocabulary is a chat one.
extension LintState {
    /// Special tokens of chat formats (ChatML, Llama 3, Llama 2/Mistral, Gemma): a tokenizer
    /// declaring one is a chat model's and needs a template.
    static let chatMarkers = ["<|im_start|>", "<|start_header_id|>", "[INST]", "<start_of_turn>", "<|user|>"]

    mutating func lintTokenizer(config: Metadata) {
        let vocabSize = config["vocab_size"]?.intValue ?? config["text_config"]?.objectValue?["vocab_size"]?.intValue
        let hasJSON = exists("tokenizer.json"), hasModel = exists("tokenizer.model")
        guard hasJSON || hasModel else {
            if vocabSize != nil {
                add(.error, "no-tokenizer", file: path,
                    "neither tokenizer.json nor tokenizer.model: runtimes cannot turn text into ids")
            }
            return
        }
        let tokenizerConfigPath = path + "/tokenizer_config.json"
        let tokenizerConfig = jsonObject(tokenizerConfigPath)
        if tokenizerConfig == nil, !exists("tokenizer_config.json") {
            add(.warning, "no-tokenizer-config", file: path,
                "no tokenizer_config.json: special tokens, add_bos_token and the chat template are lost")
        }
        var contents: [Int: String] = [:]  // id -> token, from tokenizer.json
        var vocab: [String: Int] = [:]
        let tokenizerPath = path + "/tokenizer.json"
        if hasJSON, let tokenizer = jsonObject(tokenizerPath) {
            for case .object(let t) in tokenizer["added_tokens"]?.arrayValue ?? [] {
                if let id = t["id"]?.intValue, let content = t["content"]?.stringValue { contents[Int(id)] = content }
            }
            if let v = tokenizer["model"]?.objectValue?["vocab"] {
                if let o = v.objectValue {
                    for (k, id) in o { if let i = id.intValue { vocab[k] = Int(i) } }
                } else if let a = v.arrayValue {  // Unigram: [[piece, score], ...]
                    for (i, e) in a.enumerated() { if let p = e.arrayValue?.first?.stringValue { vocab[p] = i } }
                }
            }
            let largest = max(contents.keys.max() ?? -1, vocab.values.max() ?? -1) + 1
            if let vocabSize, largest > vocabSize {
                add(.error, "tokenizer-vocab", file: tokenizerPath,
                    "ids reach \(largest - 1) but config.json's vocab_size is \(vocabSize): those ids index past the embedding")
            }
            if let embed = tensors["model.embed_tokens.weight"] ?? tensors["embed_tokens.weight"],
                let rows = embed.info.shape.first, largest > rows
            {
                add(.error, "tokenizer-vocab", file: tokenizerPath, tensor: embed.info.name,
                    "ids reach \(largest - 1) but the embedding has \(rows) rows")
            }
        }
        if let decoder = tokenizerConfig?["added_tokens_decoder"]?.objectValue, hasJSON {
            for (key, value) in decoder {
                guard let id = Int(key), let content = value.objectValue?["content"]?.stringValue else { continue }
                if contents[id] != content, vocab[content] != id {
                    add(.error, "added-tokens-lost", file: tokenizerPath,
                        "tokenizer_config.json declares \(content.debugDescription) as id \(id), tokenizer.json does not: it will be split into pieces")
                }
            }
        }
        let hasTemplate = tokenizerConfig?["chat_template"] != nil || exists("chat_template.jinja") || exists("chat_template.json")
        if !hasTemplate {
            let tokens = Set(contents.values).union(vocab.keys.filter { $0.hasPrefix("<") || $0.hasPrefix("[") })
            if let marker = Self.chatMarkers.first(where: tokens.contains) {
                add(.warning, "no-chat-template", file: path,
                    "the vocabulary has the chat token \(marker) but there is no chat template (tokenizer_config.json chat_template or chat_template.jinja): chat runtimes cannot format conversations")
            } else {
                add(.info, "no-chat-template", file: path, "no chat template (fine for a base model)")
            }
        }
        for key in ["bos_token_id", "eos_token_id", "pad_token_id"] {
            let ids = config[key].map { v in v.arrayValue.map { $0.compactMap(\.intValue) } ?? [v.intValue].compactMap { $0 } } ?? []
            for id in ids where id < 0 || (vocabSize.map { id >= $0 } ?? false) {
                add(.error, "special-token", file: path + "/config.json", "\(key) \(id) is outside the vocabulary (\(vocabSize ?? 0))")
            }
        }
    }
}

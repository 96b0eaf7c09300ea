import Foundation
import Formats

/// Special token ids, `add_*_token` flags and the chat template, as gguf-py's `SpecialVocab`
/// finds them (formats-gguf.md §5.5): `tokenizer_config.json`'s `<type>_token` matched
/// against `tokenizer.json`'s added tokens, the post-processor's template for add_bos /
/// add_eos, then config.json's `<type>_token_id` for the types still unset.
struct GGUFExportSpecialTokens {
    /// `tokenizer.ggml.merges` is written before these; this holds the id keys, the flags
    /// and `tokenizer.chat_template`, in SpecialVocab's order.
    let metadata: Metadata

    /// SpecialVocab's types and their GGUF keys (`cls` has none and is dropped, as there).
    static let types: [(name: String, key: String?)] = [
        ("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id"),
        ("sep", "seperator_token_id"), ("pad", "padding_token_id"), ("cls", nil),
        ("mask", "mask_token_id"),
    ]

    init(
        directory: String, tokenizer: MetadataValue, addedByContent: [String: Int],
        configuration: Metadata, vocabularySize n: Int
    ) throws(FormatError) {
        var config = Metadata()
        let configPath = directory + "/tokenizer_config.json"
        if FileManager.default.fileExists(atPath: configPath) {
            config =
                try JSON.parse(
                    try ByteBuffer(mapping: configPath).all, field: "tokenizer_config.json"
                )
                .objectValue ?? [:]
        }
        func content(_ v: MetadataValue?) -> String? {
            v?.stringValue ?? v?["content"]?.stringValue
        }
        var ids = Metadata()  // SpecialVocab.special_token_ids, first setter wins
        var flags = Metadata()  // SpecialVocab.add_special_token
        func set(_ type: String, _ id: Int64?) {
            guard let id, id >= 0, id < Int64(n), ids[type] == nil else { return }
            ids[type] = .uint32(UInt32(id))
        }
        var bos = content(config["bos_token"]), eos = content(config["eos_token"])
        if bos == nil, let cls = content(config["cls_token"]) { bos = cls }
        if eos == nil, let sep = content(config["sep_token"]) { eos = sep }
        // The post-processor's single template: a leading special token adds BOS, a
        // trailing one EOS (SpecialVocab's "crude parsing", simple templates only).
        let post = tokenizer["post_processor"] ?? .null
        for p in post["processors"]?.arrayValue ?? [post] {
            switch p["type"]?.stringValue {
            case "RobertaProcessing":
                flags["bos"] = .bool(true)
                flags["eos"] = .bool(true)
                flags["sep"] = .bool(true)
            case "TemplateProcessing":
                let single = p["single"]?.arrayValue ?? []
                guard single.count > 1 else { break }
                if let first = single.first?["SpecialToken"]?["id"]?.stringValue {
                    if config.isEmpty { bos = first }
                    flags["bos"] = .bool(first == bos || first == content(config["cls_token"]))
                }
                let first = single.first?["SpecialToken"]?["id"]?.stringValue
                let last = single.last?["SpecialToken"]?["id"]?.stringValue
                if let last {
                    if config.isEmpty { eos = last }
                    flags["eos"] = .bool(last == eos)
                }
                // The pair template `[first] $A [sep…] $B [last]`: a separator between the
                // sequences sets add_sep (true only for the sep or eos token).
                var pair = p["pair"]?.arrayValue ?? []
                if first != nil, pair.first?["SpecialToken"]?["id"]?.stringValue == first {
                    pair.removeFirst()
                }
                if last != nil, pair.last?["SpecialToken"]?["id"]?.stringValue == last {
                    pair.removeLast()
                }
                if pair.count > 2, pair.first?["Sequence"]?["id"]?.stringValue == "A",
                    pair.last?["Sequence"]?["id"]?.stringValue == "B"
                {
                    let sep = content(config["sep_token"])
                    let middle = pair.dropFirst().dropLast().compactMap {
                        $0["SpecialToken"]?["id"]?.stringValue
                    }
                    let separates = { (t: String) in t == sep || t == eos }
                    var addSep = false
                    if let m = middle.first, separates(m), last == nil { addSep = true }
                    if middle.count == 2, separates(middle[1]) { addSep = true }
                    flags["sep"] = .bool(addSep)
                }
            default: break
            }
        }
        if !config.isEmpty {
            var resolved = config
            if let bos { resolved["bos_token"] = .string(bos) }
            if let eos { resolved["eos_token"] = .string(eos) }
            for (type, _) in Self.types {
                if let b = resolved["add_\(type)_token"]?.boolValue { flags[type] = .bool(b) }
                if let c = content(resolved["\(type)_token"]), let id = addedByContent[c] {
                    set(type, Int64(id))
                }
            }
        }
        for (type, _) in Self.types {
            let v =
                configuration["\(type)_token_id"]
                ?? configuration["text_config"]?["\(type)_token_id"]
            set(type, v?.intValue)
        }

        var m = Metadata()
        for (type, value) in ids {
            guard let key = Self.types.first(where: { $0.name == type })?.key else { continue }
            m["tokenizer.ggml.\(key)"] = value
        }
        for (type, value) in flags where ["bos", "eos", "sep"].contains(type) {
            m["tokenizer.ggml.add_\(type)_token"] = value
        }
        if let template = config["chat_template"]?.stringValue {
            m["tokenizer.chat_template"] = .string(template)
        } else if config["chat_template"] == nil,
            let text = try? String(
                contentsOfFile: directory + "/chat_template.jinja", encoding: .utf8)
        {
            m["tokenizer.chat_template"] = .string(text)
        }
        metadata = m
    }
}

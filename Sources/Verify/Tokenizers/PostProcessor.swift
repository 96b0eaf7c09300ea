/// What `add_special_tokens` adds around a single sequence ("post_processor").
enum PostProcessor: Sendable {
    /// `TemplateProcessing`'s single template: special ids and `$A`, in order.
    case template([TemplatePiece])
    /// `[cls] … [sep]` (BertProcessing and RobertaProcessing, for one sequence).
    case wrap(prefix: [Int], suffix: [Int])
    /// No ids added (ByteLevel's post-processor only trims offsets).
    case none
    case sequence([PostProcessor])

    enum TemplatePiece: Sendable {
        case special([Int])
        case sequence
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .template(let pieces):
            var out: [Int] = []
            for p in pieces {
                switch p {
                case .special(let s): out.append(contentsOf: s)
                case .sequence: out.append(contentsOf: ids)
                }
            }
            return out
        case .wrap(let prefix, let suffix): return prefix + ids + suffix
        case .none: return ids
        case .sequence(let steps): return steps.reduce(ids) { $1.apply($0) }
        }
    }
}

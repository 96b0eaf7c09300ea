/// Turning the unpickled object into named tensors (cli.md "Names").
extension TorchCheckpoint {
    /// Deepest nesting of dicts and lists followed (real checkpoints nest 2 or 3 deep:
    /// `{"model": {"layer.weight": t}}`; a pickle can build cycles).
    package static let maxNestingDepth = 64
    /// Most containers and leaves visited while naming tensors (a DAG of shared containers
    /// could otherwise expand exponentially).
    package static let maxVisits = 1 << 22
    /// Longest tensor name in bytes (real names are under 200; a cyclic dict with a long key
    /// would otherwise build huge names).
    package static let maxNameBytes = 1 << 16

    /// The tensors under `root`, named by their key paths joined with `.`, in pickle order.
    ///
    /// Dict keys that are strings are used as they are, integer keys (optimizer state) in
    /// decimal; list and tuple items by index. Leaves that are not tensors are ignored. A
    /// name that comes out twice is an error, and so is a tensor under a key that has no
    /// name (a tuple key), or a top-level tensor (not a state dict).
    static func flatten(_ root: PickleValue, _ arena: PickleArena, file: String) throws(FormatError)
        -> [(String, PickleTensor)]
    {
        var out: [(String, PickleTensor)] = []
        var names: Set<String> = []
        var visits = 0
        func fail(_ reason: FormatError.Reason, _ path: String?) -> FormatError {
            FormatError(
                reason, file: file, field: path.map { "state dict '\($0)'" } ?? "state dict")
        }
        func join(_ prefix: String?, _ key: String) throws(FormatError) -> String {
            let length = (prefix?.utf8.count ?? 0) + 1 + key.utf8.count
            guard length <= maxNameBytes else {
                throw fail(.limitExceeded("tensor name longer than \(maxNameBytes) bytes"), nil)
            }
            return prefix.map { $0 + "." + key } ?? key
        }
        func walk(_ v: PickleValue, _ path: String?, depth: Int) throws(FormatError) {
            visits += 1
            guard visits <= maxVisits else {
                throw fail(.limitExceeded("more than \(maxVisits) values visited"), path)
            }
            guard let object = arena.object(v) else { return }
            switch object {
            case .tensor(let t):
                guard let path else {
                    throw fail(
                        .unsupported("the checkpoint is a single tensor, not a state dict"), nil)
                }
                guard names.insert(path).inserted else {
                    throw fail(.invalid("tensor name '\(path)' occurs twice"), path)
                }
                out.append((path, t))
            case .dict(let d):
                guard depth < maxNestingDepth else {
                    throw fail(.limitExceeded("dicts nested deeper than \(maxNestingDepth)"), path)
                }
                for (k, value) in d {
                    switch k {
                    case .string(let s): try walk(value, try join(path, s), depth: depth + 1)
                    case .int(let i): try walk(value, try join(path, String(i)), depth: depth + 1)
                    default:
                        // Keys with no name (tuples, floats): fine unless a tensor hides below.
                        let before = out.count
                        try walk(value, try join(path, "?"), depth: depth + 1)
                        guard out.count == before else {
                            throw fail(
                                .unsupported("tensor under a dict key of type \(k.kind)"), path)
                        }
                    }
                }
            case .list(let items), .tuple(let items):
                guard depth < maxNestingDepth else {
                    throw fail(.limitExceeded("lists nested deeper than \(maxNestingDepth)"), path)
                }
                for (i, item) in items.enumerated() {
                    try walk(item, try join(path, String(i)), depth: depth + 1)
                }
            case .set, .bytes, .storage, .opaque:
                return
            }
        }
        try walk(root, nil, depth: 0)
        return out
    }
}

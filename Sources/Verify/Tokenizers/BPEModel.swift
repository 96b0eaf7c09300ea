/// Byte-pair encoding: a word's characters merged pair by pair, best-ranked pair first.
///
/// Covers `tokenizers`' BPE model (merges ranked by their order, `byte_fallback`,
/// `fuse_unk`, `ignore_merges`) and SentencePiece's score-driven merging (llama.cpp's
/// `llm_tokenizer_spm`: the adjacent pair whose concatenation has the best score), which
/// differ only in how a pair is ranked. Ties go to the leftmost pair, as in both.
struct BPEModel: Sendable {
    /// Token bytes (UTF-8) → id. Keys are bytes, not `String`: Swift compares strings by
    /// canonical equivalence, which would make `é` and `e\u{301}` one token.
    let vocab: [[UInt8]: Int]
    /// Pair of ids (left << 32 | right) → rank (lower merges first) and merged id.
    let merges: [UInt64: Merge]
    let unknownID: Int?
    let byteFallback: Bool
    let fuseUnknown: Bool
    /// A word that is itself in the vocabulary is one token (Llama-3's `ignore_merges`).
    let ignoreMerges: Bool
    /// Ids of `<0x00>` … `<0xFF>` when the vocabulary has them.
    let byteIDs: [Int?]
    /// Ids of the one-character tokens, by scalar value (the initial symbols, looked up
    /// without building a key per character).
    let scalarIDs: [UInt32: Int]

    struct Merge: Sendable {
        var rank: Float
        var id: Int
    }

    init(
        vocab: [[UInt8]: Int], merges: [UInt64: Merge], unknownID: Int?, byteFallback: Bool,
        fuseUnknown: Bool, ignoreMerges: Bool
    ) {
        self.vocab = vocab
        self.merges = merges
        self.unknownID = unknownID
        self.byteFallback = byteFallback
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
        self.byteIDs = (0..<256).map { b in vocab[Array(Self.byteTokenName(UInt8(b)).utf8)] }
        var scalars: [UInt32: Int] = [:]
        for (bytes, id) in vocab where bytes.count <= 4 {
            let s = String(decoding: bytes, as: UTF8.self).unicodeScalars
            if s.count == 1, let c = s.first, Array(String(c).utf8) == bytes {
                scalars[c.value] = id
            }
        }
        self.scalarIDs = scalars
    }

    /// `<0xNN>` with upper-case hex digits (Rust's `format!("<{b:#04X}>")`).
    static func byteTokenName(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x\(hex[Int(b >> 4)])\(hex[Int(b & 15)])>"
    }

    static func pairKey(_ a: Int, _ b: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: a)) << 32 | UInt64(UInt32(truncatingIfNeeded: b))
    }

    /// The ids of one pre-tokenized word, appended to `out`.
    func encode(_ word: [Unicode.Scalar], into out: inout [Int]) {
        if word.isEmpty { return }
        if ignoreMerges {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(word.count * 2)
            for c in word { UTF8.encode(c) { bytes.append($0) } }
            if let id = vocab[bytes] {
                out.append(id)
                return
            }
        }
        // Initial symbols: one per character, or its bytes' <0xNN>, or (fused) unknown.
        var ids: [Int] = []
        ids.reserveCapacity(word.count)
        var pendingUnknown = false
        for c in word {
            if let id = scalarIDs[c.value] {
                if pendingUnknown, let unk = unknownID { ids.append(unk) }
                pendingUnknown = false
                ids.append(id)
                continue
            }
            if byteFallback {
                var fallback: [Int] = []
                var complete = true
                UTF8.encode(c) { b in
                    if let id = byteIDs[Int(b)] { fallback.append(id) } else { complete = false }
                }
                if complete {
                    if pendingUnknown, let unk = unknownID { ids.append(unk) }
                    pendingUnknown = false
                    ids.append(contentsOf: fallback)
                    continue
                }
            }
            guard let unk = unknownID else { continue }
            if pendingUnknown && !fuseUnknown { ids.append(unk) }
            pendingUnknown = true
        }
        if pendingUnknown, let unk = unknownID { ids.append(unk) }
        mergeAll(&ids)
        out.append(contentsOf: ids)
    }

    /// Applies merges best rank first (leftmost on ties) with a heap over a linked list,
    /// so a long word (SentencePiece input is a whole segment) costs n log n.
    func mergeAll(_ ids: inout [Int]) {
        let n = ids.count
        guard n > 1 else { return }
        var next = Array(1...n)
        next[n - 1] = -1
        var prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        for i in 0..<(n - 1) {
            if let m = merges[Self.pairKey(ids[i], ids[i + 1])] {
                heap.push(.init(rank: m.rank, pos: i, id: m.id))
            }
        }
        while let top = heap.pop() {
            let l = top.pos
            guard alive[l] else { continue }
            let r = next[l]
            guard r >= 0, let m = merges[Self.pairKey(ids[l], ids[r])], m.id == top.id,
                m.rank == top.rank
            else { continue }
            ids[l] = m.id
            alive[r] = false
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            if prev[l] >= 0, let pm = merges[Self.pairKey(ids[prev[l]], ids[l])] {
                heap.push(.init(rank: pm.rank, pos: prev[l], id: pm.id))
            }
            if next[l] >= 0, let nm = merges[Self.pairKey(ids[l], ids[next[l]])] {
                heap.push(.init(rank: nm.rank, pos: l, id: nm.id))
            }
        }
        var merged: [Int] = []
        var i = 0
        while i >= 0 {
            merged.append(ids[i])
            i = next[i]
        }
        ids = merged
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
struct MinHeap {
    struct Entry {
        var rank: Float
        var pos: Int
        var id: Int
        func less(_ o: Entry) -> Bool { rank < o.rank || (rank == o.rank && pos < o.pos) }
    }
    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].less(items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].less(items[m]) { m = l }
            if r < items.count && items[r].less(items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}

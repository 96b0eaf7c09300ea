/// Stack, memo and argument plumbing of the pickle machine: every pop checks for underflow
/// past the innermost `MARK` (as CPython's separate metastack does), every push checks the cap.
extension PickleMachine {
    mutating func push(_ v: PickleValue, _ op: PickleOpcode, at: Int) throws(FormatError) {
        guard stack.count < Self.maxStackDepth else {
            throw fail(.limitExceeded("pickle stack deeper than \(Self.maxStackDepth)"), op, at: at)
        }
        stack.append(v)
    }

    /// Adds `object` to the arena and pushes a reference to it.
    @discardableResult
    mutating func pushObject(_ object: PickleObject, _ op: PickleOpcode, at: Int)
        throws(FormatError)
        -> PickleValue
    {
        let v = try newValue(object, op, at: at)
        try push(v, op, at: at)
        return v
    }

    /// Adds `object` to the arena.
    mutating func newValue(_ object: PickleObject, _ op: PickleOpcode, at: Int) throws(FormatError)
        -> PickleValue
    {
        let error = fail(
            .limitExceeded("more than \(PickleArena.maxObjects) pickle objects"), op, at: at)
        return try arena.add(object) { error }
    }

    mutating func pop(_ op: PickleOpcode, at: Int) throws(FormatError) -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.popLast() else {
            throw fail(.invalid("stack underflow"), op, at: at)
        }
        return v
    }

    func top(_ op: PickleOpcode, at: Int) throws(FormatError) -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.last else {
            throw fail(.invalid("stack underflow"), op, at: at)
        }
        return v
    }

    /// The values pushed since the innermost `MARK`, which is removed.
    mutating func popMark(_ op: PickleOpcode, at: Int) throws(FormatError) -> [PickleValue] {
        guard let m = marks.popLast() else {
            throw fail(.invalid("no MARK on the stack"), op, at: at)
        }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    func memoValue(_ i: Int, _ op: PickleOpcode, at: Int) throws(FormatError) -> PickleValue {
        guard let v = memo[i] else {
            throw fail(.invalid("memo entry \(i) is not set"), op, at: at)
        }
        return v
    }

    mutating func memoize(_ i: Int, _ op: PickleOpcode, at: Int) throws(FormatError) {
        let v = try top(op, at: at)
        guard memo[i] != nil || memo.count < Self.maxMemoEntries else {
            throw fail(.limitExceeded("more than \(Self.maxMemoEntries) memo entries"), op, at: at)
        }
        memo[i] = v
    }

    /// The items of a tuple argument (`REDUCE`, `NEWOBJ`).
    func tupleItems(_ v: PickleValue, _ op: PickleOpcode, at: Int) throws(FormatError)
        -> [PickleValue]
    {
        guard let i = v.objectIndex, case .tuple(let items) = arena[i] else {
            throw fail(.invalid("arguments are a \(describe(v)), not a tuple"), op, at: at)
        }
        return items
    }

    /// `str`, `dict`, `tensor`, ...: what a value is, for messages.
    func describe(_ v: PickleValue) -> String {
        if let i = v.objectIndex { return arena[i].kind }
        return v.kind
    }

    mutating func extendList(
        _ target: PickleValue, with items: [PickleValue], _ op: PickleOpcode, at: Int
    )
        throws(FormatError)
    {
        guard let i = target.objectIndex, case .list = arena[i] else {
            throw fail(.invalid("\(op.name) on a \(describe(target)), not a list"), op, at: at)
        }
        try arena.update(i) { o throws(FormatError) in
            if case .list(var l) = o {
                o = .opaque("")
                l.append(contentsOf: items)
                o = .list(l)
            }
        }
    }

    /// Sets key/value pairs (`items` alternates keys and values) in the dict `target`.
    mutating func setItems(
        _ target: PickleValue, _ items: [PickleValue], _ op: PickleOpcode, at: Int
    )
        throws(FormatError)
    {
        guard let i = target.objectIndex, case .dict = arena[i] else {
            throw fail(.invalid("\(op.name) on a \(describe(target)), not a dict"), op, at: at)
        }
        guard items.count % 2 == 0 else {
            throw fail(.invalid("odd number of items (\(items.count)) for a dict"), op, at: at)
        }
        // Hashing a key reads all of it: charge string keys to the copy budget, so that one
        // long memoized key set again and again cannot make the work quadratic.
        var hashed = 0
        for k in stride(from: 0, to: items.count, by: 2) {
            hashed += items[k].stringValue?.utf8.count ?? 1
            if let ko = items[k].objectIndex {
                switch arena[ko] {
                case .list, .dict, .set:
                    throw fail(.invalid("unhashable dict key (\(arena[ko].kind))"), op, at: at)
                default: break
                }
            }
        }
        try spend(hashed, op, at: at)
        try arena.update(i) { o throws(FormatError) in
            if case .dict(var d) = o {
                o = .opaque("")
                for k in stride(from: 0, to: items.count, by: 2) { d[items[k]] = items[k + 1] }
                o = .dict(d)
            }
        }
    }

    /// Resolves `module.name` against the allow-list; anything else is thrown at `at`,
    /// the offset of the opcode naming it.
    func resolve(_ module: String, _ name: String, _ op: PickleOpcode, at: Int) throws(FormatError)
        -> PickleGlobal
    {
        guard let g = PickleGlobal(module: module, name: name) else {
            throw fail(.forbiddenGlobal(module + "." + name), op, at: at)
        }
        return g
    }

    /// One text line (protocol 0 arguments), without its `\n`, as UTF-8.
    func line(_ r: inout ByteReader, _ op: PickleOpcode) throws(FormatError) -> String {
        let start = r.offset
        let raw = try lineBytes(&r, op)
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw fail(.invalid("invalid UTF-8 in \(op.name) argument"), op, at: start)
        }
        return s
    }

    func lineBytes(_ r: inout ByteReader, _ op: PickleOpcode) throws(FormatError) -> [UInt8] {
        let start = r.offset
        let raw = r.slice.raw
        var end = start
        while end < raw.count, raw[end] != 0x0A {
            end += 1
            guard end - start <= Self.maxLineBytes else {
                throw fail(
                    .limitExceeded("\(op.name) line longer than \(Self.maxLineBytes) bytes"), op,
                    at: start)
            }
        }
        guard end < raw.count else {
            throw fail(.truncated(needed: end - start + 1, available: end - start), op, at: start)
        }
        let bytes = try r.bytes(end - start, "pickle \(op.name)").bytes
        try r.skip(1, "pickle \(op.name)")
        return bytes
    }

    /// A 64-bit length that must fit what is left (`BINUNICODE8`, `BINBYTES8`).
    func length64(_ r: inout ByteReader, _ op: PickleOpcode, at: Int) throws(FormatError) -> Int {
        let n = try r.read(UInt64.self, "pickle \(op.name)")
        guard n <= UInt64(r.remaining) else {
            throw fail(.truncated(needed: Int(clamping: n), available: r.remaining), op, at: at)
        }
        return Int(n)
    }

    /// `INT`/`LONG` text: `00`/`01` are protocol 0's False/True; `L` suffix for longs.
    func parseIntLine(_ text: String, _ op: PickleOpcode, at: Int) throws(FormatError)
        -> PickleValue
    {
        if op == .int, text == "00" { return .bool(false) }
        if op == .int, text == "01" { return .bool(true) }
        let digits = text.hasSuffix("L") ? String(text.dropLast()) : text
        guard let v = Int(digits) else {
            throw fail(.unsupported("\(op.name) argument '\(text.prefix(40))'"), op, at: at)
        }
        return .int(v)
    }

    /// A `LONG1`/`LONG4` integer: little-endian two's complement, `.int` when it fits 64 bits.
    static func integer(_ bytes: [UInt8]) -> PickleValue {
        var b = bytes
        // Drop redundant sign bytes so equal values compare equal.
        while b.count > 1, let last = b.last {
            let prevNegative = b[b.count - 2] & 0x80 != 0
            guard (last == 0 && !prevNegative) || (last == 0xFF && prevNegative) else { break }
            b.removeLast()
        }
        guard !b.isEmpty else { return .int(0) }
        guard b.count <= 8 else { return .bigInt(b) }
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        if b.count < 8, let last = b.last, last & 0x80 != 0 {
            v |= ~0 << (8 * UInt64(b.count))  // sign-extend
        }
        return .int(Int(Int64(bitPattern: v)))
    }
}

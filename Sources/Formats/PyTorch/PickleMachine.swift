/// A pickle virtual machine that only builds data: it never imports, resolves or calls code.
///
/// It runs the opcodes of protocols 0 to 5 that data pickles use (CPython `Lib/pickle.py`'s
/// `_Unpickler`, minus everything that executes). A global must be on `PickleGlobal`'s
/// allow-list, else `forbiddenGlobal` is thrown at the offset of the opcode that names it; calls
/// (`REDUCE`, `NEWOBJ`, `INST`, `OBJ`) build values for the handful of allowed globals a
/// checkpoint needs (`PickleMachine+Calls.swift`). Like `torch._weights_only_unpickler` but
/// stricter: nothing outside the table, no user extension.
///
/// One machine runs several pickles in a row (the legacy torch format is five pickles); they
/// share the arena and the storage table, each gets a fresh stack and memo as with
/// `pickle.load` called again.
package struct PickleMachine {
    /// Most values on the stack (no format limit; `pickle.py` batches `SETITEMS`/`APPENDS` by
    /// 1000 items (`_BATCHSIZE`), so real state dicts stay far below).
    package static let maxStackDepth = 1 << 20
    /// Most open `MARK`s (containers under construction nest this deep at most).
    package static let maxMarkDepth = 1 << 12
    /// Most memo entries (pickle memoizes each container and string once).
    package static let maxMemoEntries = 1 << 22
    /// Longest text line (protocol 0 arguments, `GLOBAL` names): far above any module path.
    package static let maxLineBytes = 1 << 16
    /// Widest `LONG4` integer in bytes (torch pickles never exceed `LONG1`'s 255).
    package static let maxLongBytes = 1 << 12
    /// Copy budget granted beyond the pickle's own size (see `copyBudget`).
    package static let minimumCopyBudget = 1 << 20
    /// Highest pickle protocol (CPython `pickle.HIGHEST_PROTOCOL`).
    package static let highestProtocol = 5

    /// Every object built so far, across pickles.
    package internal(set) var arena = PickleArena()
    /// Storages by key in order of first appearance (torch's `loaded_storages` cache: a key
    /// seen again yields the first storage, whatever type the later id names).
    package internal(set) var storages: [String: PickleValue] = [:]
    package internal(set) var storageKeys: [String] = []

    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    /// Values and bytes that calls may still copy (`OrderedDict(pairs)`, `set(list)`,
    /// `_codecs.encode`) and dict-key bytes still to hash. Opcodes only move values, but these
    /// copy or read them whole, and repeated on a memoized argument they would turn an N-byte
    /// pickle into N² work. A real pickle does each once, so its own size bounds the total.
    var copyBudget: Int
    /// The pickle being run, for error locations.
    var slice: ByteSlice

    package init(_ slice: ByteSlice) {
        self.slice = slice
        self.copyBudget = slice.count + Self.minimumCopyBudget
    }

    /// An error located at `at` (relative to the pickle's slice), naming the opcode.
    func fail(_ reason: FormatError.Reason, _ op: PickleOpcode?, at: Int) -> FormatError {
        FormatError(
            reason, file: slice.name, offset: slice.offset + at,
            field: "pickle " + (op?.name ?? "opcode"))
    }

    /// Runs one pickle starting at `start` (relative to the slice) up to its `STOP`.
    /// - Returns: the pickled value and the offset just past `STOP`.
    /// - Throws: `FormatError` for malformed input, a cap, a forbidden global (at the offset of
    ///   the opcode naming it), or data ckpt does not model.
    package mutating func load(from start: Int = 0) throws(FormatError) -> (
        value: PickleValue, end: Int
    ) {
        stack = []
        marks = []
        memo = [:]
        var r = ByteReader(slice, offset: start)
        while true {
            let at = r.offset
            let byte = try r.read(UInt8.self, "pickle opcode")
            guard let op = PickleOpcode(rawValue: byte) else {
                throw fail(
                    .invalid("unknown pickle opcode 0x\(String(byte, radix: 16))"), nil, at: at)
            }
            if op == .stop {
                return (try pop(op, at: at), r.offset)
            }
            try step(op, &r, at: at)
        }
    }

    private mutating func step(_ op: PickleOpcode, _ r: inout ByteReader, at: Int)
        throws(FormatError)
    {
        let field = "pickle " + op.name
        switch op {
        case .stop: break  // handled by load
        case .proto:
            let v = try r.read(UInt8.self, field)
            guard Int(v) <= Self.highestProtocol else {
                throw fail(.unsupported("pickle protocol \(v)"), op, at: at)
            }
        case .frame:
            let n = try r.read(UInt64.self, field)
            guard n <= UInt64(r.remaining) else {
                throw fail(.truncated(needed: Int(clamping: n), available: r.remaining), op, at: at)
            }
        case .mark:
            guard marks.count < Self.maxMarkDepth else {
                throw fail(.limitExceeded("more than \(Self.maxMarkDepth) open MARKs"), op, at: at)
            }
            marks.append(stack.count)
        case .pop:
            if stack.count > (marks.last ?? 0) {
                stack.removeLast()
            } else {
                _ = try popMark(op, at: at)
            }
        case .popMark: _ = try popMark(op, at: at)
        case .dup: try push(try top(op, at: at), op, at: at)
        case .none: try push(.none, op, at: at)
        case .newTrue: try push(.bool(true), op, at: at)
        case .newFalse: try push(.bool(false), op, at: at)
        case .binInt: try push(.int(Int(try r.read(Int32.self, field))), op, at: at)
        case .binInt1: try push(.int(Int(try r.read(UInt8.self, field))), op, at: at)
        case .binInt2: try push(.int(Int(try r.read(UInt16.self, field))), op, at: at)
        case .long1:
            let n = Int(try r.read(UInt8.self, field))
            try push(Self.integer(try r.bytes(n, field).bytes), op, at: at)
        case .long4:
            let n = Int(try r.read(Int32.self, field))
            guard n >= 0 else { throw fail(.invalid("negative LONG4 length \(n)"), op, at: at) }
            guard n <= Self.maxLongBytes else {
                throw fail(.limitExceeded("LONG4 of \(n) bytes > \(Self.maxLongBytes)"), op, at: at)
            }
            try push(Self.integer(try r.bytes(n, field).bytes), op, at: at)
        case .int, .long:
            try push(try parseIntLine(try line(&r, op), op, at: at), op, at: at)
        case .binFloat:
            try push(
                .float(Double(bitPattern: try r.readBigEndian(UInt64.self, field))), op, at: at)
        case .float:
            let text = try line(&r, op)
            guard let d = Double(text) else {
                throw fail(.invalid("FLOAT argument '\(text.prefix(40))'"), op, at: at)
            }
            try push(.float(d), op, at: at)
        case .binUnicode:
            try push(.string(try r.string(Int(try r.read(UInt32.self, field)), field)), op, at: at)
        case .shortBinUnicode:
            try push(.string(try r.string(Int(try r.read(UInt8.self, field)), field)), op, at: at)
        case .binUnicode8:
            try push(.string(try r.string(try length64(&r, op, at: at), field)), op, at: at)
        case .binString:
            let n = Int(try r.read(Int32.self, field))
            guard n >= 0 else { throw fail(.invalid("negative BINSTRING length \(n)"), op, at: at) }
            try push(.string(try r.string(n, field)), op, at: at)
        case .shortBinString:
            try push(.string(try r.string(Int(try r.read(UInt8.self, field)), field)), op, at: at)
        case .string:
            try push(
                .string(
                    try PickleText.quoted(
                        try line(&r, op), fail: fail(.invalid("bad STRING argument"), op, at: at))),
                op, at: at)
        case .unicode:
            let raw = try lineBytes(&r, op)
            try push(
                .string(
                    try PickleText.rawUnicodeEscape(
                        raw, fail: fail(.invalid("bad UNICODE argument"), op, at: at))), op, at: at)
        case .binBytes:
            try pushObject(
                .bytes(try r.bytes(Int(try r.read(UInt32.self, field)), field)), op, at: at)
        case .shortBinBytes:
            try pushObject(
                .bytes(try r.bytes(Int(try r.read(UInt8.self, field)), field)), op, at: at)
        case .binBytes8, .byteArray8:
            try pushObject(.bytes(try r.bytes(try length64(&r, op, at: at), field)), op, at: at)
        case .emptyTuple: try pushObject(.tuple([]), op, at: at)
        case .tuple: try pushObject(.tuple(try popMark(op, at: at)), op, at: at)
        case .tuple1, .tuple2, .tuple3:
            let n = Int(op.rawValue - PickleOpcode.tuple1.rawValue) + 1
            guard stack.count - (marks.last ?? 0) >= n else {
                throw fail(.invalid("stack underflow"), op, at: at)
            }
            let items = Array(stack.suffix(n))
            stack.removeLast(n)
            try pushObject(.tuple(items), op, at: at)
        case .emptyList: try pushObject(.list([]), op, at: at)
        case .list: try pushObject(.list(try popMark(op, at: at)), op, at: at)
        case .append:
            let v = try pop(op, at: at)
            try extendList(try top(op, at: at), with: [v], op, at: at)
        case .appends:
            let items = try popMark(op, at: at)
            try extendList(try top(op, at: at), with: items, op, at: at)
        case .emptyDict: try pushObject(.dict([:]), op, at: at)
        case .dict:
            let items = try popMark(op, at: at)
            let d = try pushObject(.dict([:]), op, at: at)
            try setItems(d, items, op, at: at)
        case .setItem:
            let v = try pop(op, at: at)
            let k = try pop(op, at: at)
            try setItems(try top(op, at: at), [k, v], op, at: at)
        case .setItems:
            let items = try popMark(op, at: at)
            try setItems(try top(op, at: at), items, op, at: at)
        case .emptySet: try pushObject(.set([]), op, at: at)
        case .frozenSet: try pushObject(.set(try popMark(op, at: at)), op, at: at)
        case .addItems:
            let items = try popMark(op, at: at)
            let target = try top(op, at: at)
            guard let i = target.objectIndex, case .set = arena[i] else {
                throw fail(.invalid("ADDITEMS on a \(describe(target))"), op, at: at)
            }
            try arena.update(i) { o throws(FormatError) in
                if case .set(var s) = o { s.append(contentsOf: items); o = .set(s) }
            }
        case .get:
            let text = try line(&r, op)
            guard let i = Int(text) else {
                throw fail(.invalid("GET index '\(text.prefix(40))'"), op, at: at)
            }
            try push(try memoValue(i, op, at: at), op, at: at)
        case .binGet:
            try push(try memoValue(Int(try r.read(UInt8.self, field)), op, at: at), op, at: at)
        case .longBinGet:
            try push(try memoValue(Int(try r.read(UInt32.self, field)), op, at: at), op, at: at)
        case .put:
            let text = try line(&r, op)
            guard let i = Int(text), i >= 0 else {
                throw fail(.invalid("PUT index '\(text.prefix(40))'"), op, at: at)
            }
            try memoize(i, op, at: at)
        case .binPut: try memoize(Int(try r.read(UInt8.self, field)), op, at: at)
        case .longBinPut: try memoize(Int(try r.read(UInt32.self, field)), op, at: at)
        case .memoize: try memoize(memo.count, op, at: at)
        case .global:
            let module = try line(&r, op)
            let name = try line(&r, op)
            try push(.global(try resolve(module, name, op, at: at)), op, at: at)
        case .stackGlobal:
            let name = try pop(op, at: at)
            let module = try pop(op, at: at)
            guard let m = module.stringValue, let n = name.stringValue else {
                throw fail(.invalid("STACK_GLOBAL operands must be strings"), op, at: at)
            }
            try push(.global(try resolve(m, n, op, at: at)), op, at: at)
        case .reduce:
            let args = try pop(op, at: at)
            let callable = try pop(op, at: at)
            try push(
                try call(callable, args: try tupleItems(args, op, at: at), op, at: at), op, at: at)
        case .newObj:
            let args = try pop(op, at: at)
            let cls = try pop(op, at: at)
            try push(
                try newObject(cls, args: try tupleItems(args, op, at: at), op, at: at), op, at: at)
        case .newObjEx:
            let kwargs = try pop(op, at: at)
            let args = try pop(op, at: at)
            let cls = try pop(op, at: at)
            guard let k = kwargs.objectIndex, case .dict(let d) = arena[k], d.isEmpty else {
                throw fail(.unsupported("NEWOBJ_EX with keyword arguments"), op, at: at)
            }
            try push(
                try newObject(cls, args: try tupleItems(args, op, at: at), op, at: at), op, at: at)
        case .inst:
            let module = try line(&r, op)
            let name = try line(&r, op)
            let g = try resolve(module, name, op, at: at)
            let args = try popMark(op, at: at)
            try push(try call(.global(g), args: args, op, at: at), op, at: at)
        case .obj:
            var args = try popMark(op, at: at)
            guard !args.isEmpty else { throw fail(.invalid("OBJ without a class"), op, at: at) }
            let cls = args.removeFirst()
            try push(try call(cls, args: args, op, at: at), op, at: at)
        case .build:
            let state = try pop(op, at: at)
            try build(try top(op, at: at), state: state, op, at: at)
        case .binPersID:
            let pid = try pop(op, at: at)
            try push(try persistentLoad(pid, op, at: at), op, at: at)
        case .persID:
            let pid = try line(&r, op)
            try push(try persistentLoad(.string(pid), op, at: at), op, at: at)
        case .ext1, .ext2, .ext4:
            throw fail(.unsupported("copyreg extension codes (\(op.name))"), op, at: at)
        case .nextBuffer, .readonlyBuffer:
            throw fail(.unsupported("out-of-band pickle buffers (\(op.name))"), op, at: at)
        }
    }
}

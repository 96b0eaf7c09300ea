/// What the pickle machine does instead of calling code: for each allowed global a checkpoint
/// needs, it builds the plain value the call would have returned (formats doc §3.5); every
/// other call is refused. Persistent ids become storage references (§3.4).
extension PickleMachine {
    /// Most dimensions of a tensor (torch sets none; numpy's `NPY_MAXDIMS` is 64).
    package static let maxTensorDims = 64
    /// Deepest chain of `_rebuild_from_type_v2` wrappers followed.
    static let maxCallNesting = 8

    /// `REDUCE`/`INST`/`OBJ`: `callable(*args)` for an allowed global.
    mutating func call(
        _ callable: PickleValue, args: [PickleValue], _ op: PickleOpcode, at: Int, depth: Int = 0
    ) throws(FormatError) -> PickleValue {
        guard case .global(let g) = callable else {
            throw fail(
                .invalid("\(op.name) calls a \(describe(callable)), not a global"), op, at: at)
        }
        func arity(_ allowed: ClosedRange<Int>, _ name: String) throws(FormatError) {
            guard allowed.contains(args.count) else {
                throw fail(
                    .invalid("\(name) takes \(allowed) arguments, got \(args.count)"), op, at: at)
            }
        }
        switch g {
        case .orderedDict:
            try arity(0...1, "OrderedDict")
            let d = try newValue(.dict([:]), op, at: at)
            if let source = args.first {
                var items: [PickleValue] = []
                switch arena.object(source) {
                case .dict(let pairs)?:
                    for (k, v) in pairs { items += [k, v] }
                case .list(let pairs)?, .tuple(let pairs)?:
                    for p in pairs {
                        guard case .tuple(let kv)? = arena.object(p), kv.count == 2 else {
                            throw fail(.invalid("OrderedDict item is not a pair"), op, at: at)
                        }
                        items += kv
                    }
                default:
                    throw fail(.invalid("OrderedDict from a \(describe(source))"), op, at: at)
                }
                try spend(items.count, op, at: at)
                try setItems(d, items, op, at: at)
            }
            return d
        case .set:
            try arity(0...1, "set")
            guard let source = args.first else { return try newValue(.set([]), op, at: at) }
            switch arena.object(source) {
            case .list(let items)?, .tuple(let items)?, .set(let items)?:
                try spend(items.count, op, at: at)
                return try newValue(.set(items), op, at: at)
            default: throw fail(.invalid("set from a \(describe(source))"), op, at: at)
            }
        case .bytearray:
            try arity(0...1, "bytearray")
            guard let source = args.first else {
                return try newValue(
                    .bytes(ByteBuffer(copying: [UInt8](), name: slice.name).all), op, at: at)
            }
            guard case .bytes? = arena.object(source) else {
                throw fail(.unsupported("bytearray from a \(describe(source))"), op, at: at)
            }
            return source
        case .complex:
            return try newValue(.opaque("complex"), op, at: at)
        case .codecsEncode:
            try arity(2...2, "_codecs.encode")
            guard let text = args[0].stringValue, let encoding = args[1].stringValue else {
                throw fail(.invalid("_codecs.encode arguments are not strings"), op, at: at)
            }
            try spend(text.utf8.count, op, at: at)
            return try newValue(.bytes(try encode(text, encoding, op, at: at)), op, at: at)
        case .rebuildTensor:
            try arity(4...4, "_rebuild_tensor")
            return try rebuildTensor(args, dtype: nil, op, at: at)
        case .rebuildTensorV2:
            try arity(6...7, "_rebuild_tensor_v2")
            return try rebuildTensor(args, dtype: nil, op, at: at)
        case .rebuildTensorV3:
            try arity(7...8, "_rebuild_tensor_v3")
            guard case .global(.dtype(let t)) = args[6] else {
                throw fail(
                    .invalid("_rebuild_tensor_v3 dtype is a \(describe(args[6]))"), op, at: at)
            }
            return try rebuildTensor(args, dtype: t, op, at: at)
        case .rebuildParameter, .rebuildParameterWithState:
            try arity(g == .rebuildParameter ? 3...3 : 4...4, "_rebuild_parameter")
            return try tensorArgument(args[0], op, at: at)
        case .rebuildFromTypeV2:
            // (func, new_type, args, state): the tensor is func(*args); type and state are
            // Python-side decorations.
            try arity(4...4, "_rebuild_from_type_v2")
            guard depth < Self.maxCallNesting else {
                throw fail(
                    .limitExceeded(
                        "_rebuild_from_type_v2 nested deeper than \(Self.maxCallNesting)"), op,
                    at: at)
            }
            let inner = try call(
                args[0], args: try tupleItems(args[2], op, at: at), op, at: at, depth: depth + 1)
            return try tensorArgument(inner, op, at: at)
        case .size:
            try arity(0...1, "torch.Size")
            guard let source = args.first else { return try newValue(.tuple([]), op, at: at) }
            guard case .tuple? = arena.object(source) else {
                throw fail(.invalid("torch.Size from a \(describe(source))"), op, at: at)
            }
            return source
        case .device:
            return try newValue(.opaque("torch.device"), op, at: at)
        case .unsupportedRebuild(let name):
            throw fail(
                .unsupported("\(name) (sparse, quantized, nested or meta tensors)"), op, at: at)
        case .typedStorage, .untypedStorage, .genericTypedStorage, .dtype, .tensorClass, .opaque:
            throw fail(.unsupported("calling \(g) in a pickle"), op, at: at)
        }
    }

    /// Takes `n` from the copy budget.
    mutating func spend(_ n: Int, _ op: PickleOpcode, at: Int) throws(FormatError) {
        guard n <= copyBudget else {
            throw fail(
                .limitExceeded("calls copy more than the pickle's size plus \(Self.minimumCopyBudget)"),
                op, at: at)
        }
        copyBudget -= n
    }

    /// `NEWOBJ`: `cls.__new__(cls, *args)`, for the classes whose `__new__` builds data.
    mutating func newObject(_ cls: PickleValue, args: [PickleValue], _ op: PickleOpcode, at: Int)
        throws(FormatError) -> PickleValue
    {
        switch cls {
        case .global(.orderedDict): return try newValue(.dict([:]), op, at: at)
        case .global(.set): return try newValue(.set([]), op, at: at)
        case .global(.tensorClass("torch.nn.parameter.Parameter")) where !args.isEmpty:
            return try tensorArgument(args[0], op, at: at)
        default:
            throw fail(.unsupported("\(op.name) of a \(describe(cls))"), op, at: at)
        }
    }

    /// `BUILD`: the state is Python attributes (`OrderedDict._metadata` of `state_dict()`,
    /// tensor attributes); ckpt reads none of them, so only the target is checked.
    func build(_ target: PickleValue, state: PickleValue, _ op: PickleOpcode, at: Int)
        throws(FormatError)
    {
        switch arena.object(target) {
        case .dict?, .tensor?: return
        default: throw fail(.invalid("BUILD on a \(describe(target))"), op, at: at)
        }
    }

    /// `_codecs.encode(str, "latin1")`: how protocol 2 pickles `bytes`.
    func encode(_ text: String, _ encoding: String, _ op: PickleOpcode, at: Int) throws(FormatError)
        -> ByteSlice
    {
        var out: [UInt8] = []
        switch encoding.lowercased() {
        case "latin1", "latin-1", "iso-8859-1":
            out.reserveCapacity(text.unicodeScalars.count)
            for s in text.unicodeScalars {
                guard s.value < 256 else {
                    throw fail(.invalid("_codecs.encode: character beyond latin-1"), op, at: at)
                }
                out.append(UInt8(s.value))
            }
        case "utf-8", "utf8": out = Array(text.utf8)
        default:
            throw fail(.unsupported("_codecs.encode encoding '\(encoding.prefix(40))'"), op, at: at)
        }
        return ByteBuffer(copying: out, name: slice.name).all
    }

    func tensorArgument(_ v: PickleValue, _ op: PickleOpcode, at: Int) throws(FormatError)
        -> PickleValue
    {
        guard case .tensor? = arena.object(v) else {
            throw fail(.invalid("expected a tensor, got a \(describe(v))"), op, at: at)
        }
        return v
    }

    /// A non-negative Int from a tuple of ints (`size`, `stride`).
    private func ints(_ v: PickleValue, _ what: String, _ op: PickleOpcode, at: Int)
        throws(FormatError) -> [Int]
    {
        guard case .tuple(let items)? = arena.object(v) else {
            throw fail(.invalid("tensor \(what) is a \(describe(v)), not a tuple"), op, at: at)
        }
        guard items.count <= Self.maxTensorDims else {
            throw fail(
                .limitExceeded("tensor with \(items.count) dims > \(Self.maxTensorDims)"), op,
                at: at)
        }
        var out: [Int] = []
        for item in items {
            guard case .int(let i) = item, i >= 0 else {
                throw fail(
                    .invalid("tensor \(what) holds \(item) (not a non-negative int)"), op, at: at)
            }
            out.append(i)
        }
        return out
    }

    /// `_rebuild_tensor*(storage, storage_offset, size, stride, ...)`: a strided view, checked
    /// to lie inside the storage.
    private mutating func rebuildTensor(
        _ args: [PickleValue], dtype: TorchScalarType?, _ op: PickleOpcode, at: Int
    ) throws(FormatError) -> PickleValue {
        guard case .storage(let storage)? = arena.object(args[0]) else {
            throw fail(.invalid("tensor storage is a \(describe(args[0]))"), op, at: at)
        }
        guard let scalar = dtype ?? storage.scalar else {
            throw fail(.invalid("tensor on an untyped storage without a dtype"), op, at: at)
        }
        guard let elementSize = scalar.elementSize else {
            throw fail(.unsupported("tensor dtype \(scalar.torchName)"), op, at: at)
        }
        guard case .int(let offset) = args[1], offset >= 0 else {
            throw fail(.invalid("tensor storage_offset is \(args[1])"), op, at: at)
        }
        let shape = try ints(args[2], "size", op, at: at)
        let strides = try ints(args[3], "stride", op, at: at)
        guard shape.count == strides.count else {
            throw fail(
                .invalid("tensor size has \(shape.count) dims, stride \(strides.count)"), op, at: at
            )
        }
        guard let count = shape.checkedElementCount else {
            throw fail(.invalid("tensor element count overflows"), op, at: at)
        }
        if count > 0 {
            // Last element touched: offset + Σ (size-1)·stride; it must end inside the storage.
            var last = offset
            var overflow = false
            for (n, s) in zip(shape, strides) {
                let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                overflow = overflow || o1 || o2
                last = sum
            }
            let (end, o3) = last.addingReportingOverflow(1)
            let (endBytes, o4) = end.multipliedReportingOverflow(by: elementSize)
            guard !(overflow || o3 || o4), endBytes <= storage.byteCount else {
                throw fail(
                    .invalid(
                        "tensor (offset \(offset), size \(shape), stride \(strides)) reaches past "
                            + "its storage '\(storage.key)' of \(storage.byteCount) bytes"
                    ), op, at: at)
            }
        }
        let tensor = PickleTensor(
            storage: storage, scalar: scalar, storageOffset: offset, shape: shape, strides: strides,
            builtAt: slice.offset + at)
        return try newValue(.tensor(tensor), op, at: at)
    }

    /// `BINPERSID`/`PERSID`: a storage reference, zip `('storage', type, key, location, numel)`
    /// or legacy `(..., numel, view_metadata)`.
    mutating func persistentLoad(_ pid: PickleValue, _ op: PickleOpcode, at: Int)
        throws(FormatError)
        -> PickleValue
    {
        guard case .tuple(let t)? = arena.object(pid), t.count == 5 || t.count == 6,
            t[0] == .string("storage")
        else {
            throw fail(
                .unsupported("persistent id \(describe(pid)) is not a ('storage', ...) tuple"), op,
                at: at)
        }
        let scalar: TorchScalarType?
        switch t[1] {
        case .global(.typedStorage(let s)): scalar = s
        case .global(.untypedStorage): scalar = nil
        default: throw fail(.unsupported("storage type \(t[1])"), op, at: at)
        }
        let key: String
        switch t[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw fail(.invalid("storage key is a \(describe(t[2]))"), op, at: at)
        }
        guard case .int(let numel) = t[4], numel >= 0 else {
            throw fail(.invalid("storage numel is \(t[4])"), op, at: at)
        }
        guard let elementSize = scalar.map({ $0.elementSize }) ?? 1 else {
            throw fail(.unsupported("storage of \(scalar?.torchName ?? "?")"), op, at: at)
        }
        let (bytes, overflow) = numel.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw fail(.invalid("storage byte size overflows"), op, at: at) }
        let root: PickleValue
        if let cached = storages[key] {
            root = cached
        } else {
            let s = PickleStorage(
                key: key, scalar: scalar, rootByteCount: bytes, start: 0, byteCount: bytes)
            root = try newValue(.storage(s), op, at: at)
            storages[key] = root
            storageKeys.append(key)
        }
        guard t.count == 6, t[5] != .none else { return root }
        // Legacy storage view: (view_key, offset, size) in elements of the root.
        guard case .storage(let r)? = arena.object(root),
            case .tuple(let view)? = arena.object(t[5]), view.count == 3,
            case .int(let start) = view[1], case .int(let size) = view[2], start >= 0, size >= 0
        else { throw fail(.invalid("storage view_metadata is malformed"), op, at: at) }
        let rootSize = r.scalar.flatMap { $0.elementSize } ?? 1
        let (a, o1) = start.multipliedReportingOverflow(by: rootSize)
        let (n, o2) = size.multipliedReportingOverflow(by: rootSize)
        guard !o1, !o2, a <= r.byteCount, n <= r.byteCount - a else {
            throw fail(
                .invalid("storage view [\(start), +\(size)) outside its storage"), op, at: at)
        }
        var v = r
        v.start = a
        v.byteCount = n
        return try newValue(.storage(v), op, at: at)
    }
}

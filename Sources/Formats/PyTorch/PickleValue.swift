import OrderedCollections

/// One value on the pickle machine's stack: a scalar, or a reference to an object in the
/// machine's arena.
///
/// Containers live in a flat arena (`PickleArena`) instead of nesting inside the enum, so that
/// (1) lists and dicts are shared and mutable the way pickle's memo expects (an `APPEND` to a
/// memoized list is seen by every later `BINGET`), and (2) no hostile nesting (a million
/// `TUPLE1`s) can overflow the stack when values are copied, hashed or freed.
package enum PickleValue: Sendable, Hashable {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits (`LONG1`/`LONG4`): minimal little-endian two's complement.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    /// An object in the arena, by index.
    case object(Int)
    /// An allowed global (a function or class, never resolved to code).
    case global(PickleGlobal)

    package var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    package var intValue: Int? { if case .int(let i) = self { i } else { nil } }
    package var objectIndex: Int? { if case .object(let i) = self { i } else { nil } }

    /// A short description of the value's kind, for error messages.
    package var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .object: "object"
        case .global: "global"
        }
    }
}

/// A dict as pickle builds it: insertion-ordered, a repeated key replaces the value in place
/// (Python's `dict.__setitem__`). Keys compare by value for scalars and by identity for
/// arena objects (a tuple key built twice is two keys; state dicts use string keys).
package typealias PickleDict = OrderedDictionary<PickleValue, PickleValue>

/// A torch storage named by a persistent id (formats doc §3.4): where its bytes are found and
/// how many there are. A legacy storage view is a window `[start, start + byteCount)` of its root.
package struct PickleStorage: Sendable, Hashable {
    /// The record key: `data/<key>` in a zip archive, the root key in the legacy format.
    package var key: String
    /// The element type of a typed storage; nil for `UntypedStorage` (bytes).
    package var scalar: TorchScalarType?
    /// Bytes of the whole root storage: numel × element size.
    package var rootByteCount: Int
    /// Start of this storage (or legacy view) within the root, in bytes.
    package var start: Int
    /// Bytes visible through this storage (or view).
    package var byteCount: Int
}

/// A tensor built by a `torch._utils._rebuild_tensor*` call: a strided view of a storage.
/// Offsets, sizes and strides are in elements of `scalar` and were bounds-checked against the
/// storage's byte count when the tensor was built.
package struct PickleTensor: Sendable, Hashable {
    package var storage: PickleStorage
    package var scalar: TorchScalarType
    package var storageOffset: Int
    package var shape: [Int]
    package var strides: [Int]
    /// Offset of the `REDUCE` that built it, for later errors.
    package var builtAt: Int
}

/// An object in the arena.
package enum PickleObject: Sendable {
    case tuple([PickleValue])
    case list([PickleValue])
    case dict(PickleDict)
    case set([PickleValue])
    /// `bytes`/`bytearray`: a slice of the pickle, or a buffer made by `_codecs.encode`.
    case bytes(ByteSlice)
    case storage(PickleStorage)
    case tensor(PickleTensor)
    /// A value built by an allowed call that ckpt does not model (`torch.device`, `complex`).
    case opaque(String)

    /// A short description of the object's kind, for error messages.
    package var kind: String {
        switch self {
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .set: "set"
        case .bytes: "bytes"
        case .storage: "storage"
        case .tensor: "tensor"
        case .opaque(let s): s
        }
    }
}

/// Every object a pickle built, by index. Values refer to objects by index (`.object(i)`).
package struct PickleArena: Sendable {
    package private(set) var objects: [PickleObject] = []

    /// Most objects one pickle may build (no format limit; a state dict builds a few objects
    /// per tensor, so this admits some million tensors while bounding memory).
    package static let maxObjects = 1 << 24

    package init() {}

    package subscript(_ index: Int) -> PickleObject { objects[index] }

    /// The object a value refers to, if it is an object reference.
    package func object(_ value: PickleValue) -> PickleObject? {
        guard case .object(let i) = value else { return nil }
        return objects[i]
    }

    /// Adds an object; returns the value referring to it. `at` locates a cap error.
    package mutating func add(_ object: PickleObject, error: () -> FormatError) throws(FormatError)
        -> PickleValue
    {
        guard objects.count < Self.maxObjects else { throw error() }
        objects.append(object)
        return .object(objects.count - 1)
    }

    /// Mutates object `index` in place; the slot is emptied meanwhile so its array is not
    /// copied (it stays uniquely referenced).
    package mutating func update<R>(
        _ index: Int, _ body: (inout PickleObject) throws(FormatError) -> R
    ) throws(FormatError) -> R {
        var object = objects[index]
        objects[index] = .opaque("")
        defer { objects[index] = object }
        return try body(&object)
    }
}

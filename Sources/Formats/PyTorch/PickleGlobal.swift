/// A pickle global that ckpt allows: the only things a `GLOBAL`, `STACK_GLOBAL` or `INST`
/// opcode may name.
///
/// The allow-list is `torch.load(weights_only=True)`'s default list (torch 2.13,
/// `torch/_weights_only_unpickler.py::_get_allowed_globals`, formats doc §3.7). Anything else
/// (`posix.system`, `builtins.eval`, `subprocess.Popen`, ...) is a `forbiddenGlobal` error raised
/// when the global is named: it is never imported, resolved or called. Allowed globals are
/// not "called" either: the pickle machine builds plain data for the few it understands
/// (`PickleMachine+Calls.swift`) and refuses the rest as unsupported.
package enum PickleGlobal: Sendable, Hashable {
    /// `collections.OrderedDict`, `collections.Counter`: build a dict.
    case orderedDict
    /// `builtins.set`.
    case set
    /// `builtins.bytearray`.
    case bytearray
    /// `builtins.complex`.
    case complex
    /// `_codecs.encode`: how protocol-2 pickles spell a `bytes` object.
    case codecsEncode
    /// `torch._utils._rebuild_tensor` (pre-1.x, no requires_grad).
    case rebuildTensor
    /// `torch._utils._rebuild_tensor_v2`: every dtype with a legacy storage class.
    case rebuildTensorV2
    /// `torch._utils._rebuild_tensor_v3`: the "new" dtypes, untyped storage + explicit dtype.
    case rebuildTensorV3
    /// `torch._utils._rebuild_parameter`: an `nn.Parameter` around a tensor.
    case rebuildParameter
    /// `torch._utils._rebuild_parameter_with_state`.
    case rebuildParameterWithState
    /// `torch._tensor._rebuild_from_type_v2`: a tensor subclass or a tensor with attributes.
    case rebuildFromTypeV2
    /// A torch rebuild function that is allowed but builds what ckpt does not read (sparse,
    /// quantized, nested, meta tensors); calling it is `unsupported`.
    case unsupportedRebuild(String)
    /// A legacy typed-storage class (`torch.FloatStorage`, also `torch.cuda.*`).
    case typedStorage(TorchScalarType)
    /// `torch.storage.UntypedStorage`: bytes, numel counts bytes.
    case untypedStorage
    /// `torch.storage.TypedStorage` itself (dtype unknown).
    case genericTypedStorage
    /// A torch dtype object (`torch.float8_e4m3fn`).
    case dtype(TorchScalarType)
    /// `torch.Size`: a tuple.
    case size
    /// `torch.device`.
    case device
    /// A tensor class: `torch.Tensor`, `torch.nn.parameter.Parameter`, `torch.FloatTensor`, ...
    case tensorClass(String)
    /// A value ckpt keeps opaque (`torch.serialization._get_layout`, qschemes).
    case opaque(String)

    /// Python 2 module names that pickles of protocol ≤ 2 still write
    /// (torch `_utils.IMPORT_MAPPING`).
    private static let python2Modules = ["__builtin__": "builtins", "copy_reg": "copyreg"]

    /// Element types with both `torch.<X>Tensor` and `torch.cuda.<X>Tensor` classes.
    private static let tensorClassPrefixes: Set<String> = [
        "BFloat16", "Bool", "Byte", "Char", "Double", "Float", "Half", "Int", "Long", "Short",
    ]

    /// Storage classes that also exist under `torch.cuda` (no complex or quantized ones there).
    private static let cudaStorageTypes: Set<TorchScalarType> = [
        .bfloat16, .bool, .uint8, .int8, .complex128, .complex64, .float64, .float32, .float16,
        .int32, .int64, .int16,
    ]

    private static let qschemes: Set<String> = [
        "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
        "per_channel_symmetric", "per_channel_affine_float_qparams",
    ]

    private static let otherRebuilds: Set<String> = [
        "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_device_tensor_from_numpy",
        "_rebuild_meta_tensor_no_storage", "_rebuild_nested_tensor", "_rebuild_qtensor",
        "_rebuild_sparse_tensor", "_rebuild_wrapper_subclass",
    ]

    /// The allowed global `module.name`, or nil when it is not on the allow-list.
    package init?(module rawModule: String, name: String) {
        let module = Self.python2Modules[rawModule] ?? rawModule
        switch (module, name) {
        case ("collections", "OrderedDict"), ("collections", "Counter"): self = .orderedDict
        case ("builtins", "set"): self = .set
        case ("builtins", "bytearray"): self = .bytearray
        case ("builtins", "complex"): self = .complex
        case ("_codecs", "encode"): self = .codecsEncode
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): self = .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): self = .rebuildFromTypeV2
        case ("torch._utils", _) where Self.otherRebuilds.contains(name):
            self = .unsupportedRebuild("torch._utils." + name)
        case ("torch.storage", "UntypedStorage"): self = .untypedStorage
        case ("torch.storage", "TypedStorage"): self = .genericTypedStorage
        case ("torch", "Size"): self = .size
        case ("torch", "device"): self = .device
        case ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"):
            self = .tensorClass(module + "." + name)
        case ("torch.serialization", "_get_layout"): self = .opaque(module + "." + name)
        case ("torch", _) where Self.qschemes.contains(name): self = .opaque("torch." + name)
        case ("torch", _), ("torch.cuda", _):
            if name.hasSuffix("Storage"), let t = TorchScalarType(storageClass: name),
                module == "torch" || Self.cudaStorageTypes.contains(t)
            {
                self = .typedStorage(t)
            } else if name.hasSuffix("Tensor"),
                Self.tensorClassPrefixes.contains(String(name.dropLast("Tensor".count)))
            {
                self = .tensorClass(module + "." + name)
            } else if module == "torch", let t = TorchScalarType(rawValue: name) {
                self = .dtype(t)
            } else {
                return nil
            }
        case ("torch.sparse", _), ("torch.cuda.sparse", _):
            // Sparse tensor classes: every prefix but Bool.
            let prefix = String(name.dropLast("Tensor".count))
            guard name.hasSuffix("Tensor"), prefix != "Bool",
                Self.tensorClassPrefixes.contains(prefix)
            else { return nil }
            self = .tensorClass(module + "." + name)
        default:
            return nil
        }
    }
}

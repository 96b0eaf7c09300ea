import Foundation
import Formats
import TestSupport

/// Helpers shared by the safetensors and model-directory tests (namespaced: FormatsTests is
/// one module shared with the other formats' tests).
enum ST {
    /// A safetensors file: `header` as given (no padding added) after its u64 length.
    static func file(_ header: String, data: [UInt8] = [], declared: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = declared ?? UInt64(h.count)
        return withUnsafeBytes(of: n.littleEndian) { Array($0) } + h + data
    }

    /// The error opening `bytes` throws, or nil when it opens.
    static func error(_ bytes: [UInt8]) -> FormatError? {
        do {
            _ = try SafetensorsFile(buffer: ByteBuffer(copying: bytes, name: "t.safetensors"))
            return nil
        } catch {
            return error
        }
    }

    /// File offset of the first occurrence of `marker` in `header` (8 + its UTF-8 offset).
    static func offset(of marker: String, in header: String, after: String = "") -> Int {
        let h = Array(header.utf8)
        let m = Array(marker.utf8)
        var start = 0
        if !after.isEmpty { start = offset(of: after, in: header) - 8 + after.utf8.count }
        for i in start..<max(start, h.count - m.count + 1) where Array(h[i..<i + m.count]) == m {
            return 8 + i
        }
        fatalError("marker \(marker) not in header")
    }

    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let a = it.next(), let b = it.next() {
            out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16) ?? 0)
        }
        return out
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// dtypes.json from make_safetensors.py: name → (dtype, shape, bytes, values).
    struct Expected {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
        var values: [Any]
    }

    /// Parsed with Formats' JSON (exact doubles; Foundation's parser rounds on Linux).
    static func expectedDTypes() throws -> [Expected] {
        let doc = try JSON.parse(
            ByteBuffer(mapping: TestPaths.fixture("safetensors/dtypes.json")).all)
        let entries = doc.objectValue ?? [:]
        return entries.keys.sorted().map { k in
            let e = entries[k] ?? .null
            let values: [Any] = (e["values"]?.arrayValue ?? []).map { v -> Any in
                switch v {
                case .int64(let i): return i
                case .uint64(let u): return u
                case .float64(let d): return d
                case .array(let pair, _): return pair.compactMap(\.doubleValue)
                default: return v
                }
            }
            return Expected(
                name: k, dtype: e["dtype"]?.stringValue ?? "",
                shape: (e["shape"]?.arrayValue ?? []).map { Int($0.intValue ?? -1) },
                bytes: hex(e["hex"]?.stringValue ?? ""), values: values)
        }
    }

    /// Writes `tensors` (name, dtype, shape, bytes) with `SafetensorsWriter`, in this order.
    static func writeWithUs(
        _ tensors: [(String, DType, [Int], [UInt8])], metadata: Metadata, to path: String
    ) throws {
        var sink = SafetensorsWriter(path: path)
        let plan = tensors.map { t in
            TensorInfo(name: t.0, type: .dense(t.1), shape: t.2, byteCount: t.3.count)
        }
        try sink.begin(metadata: metadata, plan: plan)
        for (info, t) in zip(plan, tensors) { try write(t.3, info, into: &sink) }
        try sink.commit()
    }

    /// Hands `bytes` to `sink` (through a heap copy: closures over typed-throwing calls crash
    /// this compiler's IRGen).
    static func write<S: TensorSink>(_ bytes: [UInt8], _ info: TensorInfo, into sink: inout S)
        throws
    {
        let buf = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(bytes.count, 1), alignment: 16)
        defer { buf.deallocate() }
        buf.copyBytes(from: bytes)
        try sink.write(info, bytes: UnsafeRawBufferPointer(rebasing: buf[0..<bytes.count]))
    }
}

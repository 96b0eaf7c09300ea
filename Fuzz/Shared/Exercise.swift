// Shared by every fuzz target (scripts/fuzz.sh compiles it with each one).
import Formats

/// Opens `size` bytes with `open`; whatever opens must hand out every tensor's bytes in
/// bounds (AddressSanitizer checks each one is read). Anything else must be a FormatError.
func exercise(_ data: UnsafePointer<UInt8>, _ size: Int, _ open: (ByteBuffer) throws -> any TensorSource) -> Int32 {
    let buffer = ByteBuffer(copying: UnsafeBufferPointer(start: data, count: size), name: "fuzz-input")
    guard let source = try? open(buffer) else { return 0 }
    var checksum: UInt8 = 0
    for tensor in source.tensors {
        guard let bytes = try? source.bytes(of: tensor) else { continue }
        bytes.withBytes { raw in for b in raw { checksum &+= b } }
    }
    blackHole(checksum)
    return 0
}

@inline(never) func blackHole(_ x: UInt8) { if x == 0x5A && CommandLine.argc < 0 { print(x) } }

// libFuzzer target: `make fuzz` (built with -sanitize=fuzzer,address). Any input must
// either open or throw FormatError; reading every tensor of what opens must stay in bounds.
import Formats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = ByteBuffer(copying: UnsafeBufferPointer(start: data, count: size), name: "fuzz-input")
    guard let source = try? NPYFile(buffer: buffer, name: "fuzz-input") else { return 0 }
    var checksum: UInt8 = 0
    for tensor in source.tensors {
        guard let bytes = try? source.bytes(of: tensor) else { continue }
        for b in bytes.raw { checksum &+= b }
    }
    blackHole(checksum)
    return 0
}

@inline(never) func blackHole(_ x: UInt8) { if x == 0x5A && CommandLine.argc < 0 { print(x) } }

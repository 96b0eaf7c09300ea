// libFuzzer target for `make fuzz`: see Fuzz/Shared/Exercise.swift.
import Formats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    exercise(data, size) { try Checkpoint.open($0) }
}

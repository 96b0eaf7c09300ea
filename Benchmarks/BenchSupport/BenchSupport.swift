// What every ckpt benchmark program shares: a clock, best-of-N timing, and one JSON object
// per line on stdout for scripts/bench.sh to combine with the peers' figures.
import Dispatch
import Foundation

/// Seconds on a monotonic clock.
public func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// The best of `repeats` timings of `body`, in seconds.
public func best(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var b = Double.infinity
    for _ in 0..<repeats {
        let t = now()
        try body()
        b = min(b, now() - t)
    }
    return b
}

/// Prints `{"bench": name, field: value, …}` on one line.
public func emit(_ name: String, _ fields: [String: Double]) {
    let body = fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
    FileHandle.standardOutput.write(Data("{\"bench\": \"\(name)\", \(body)}\n".utf8))
}

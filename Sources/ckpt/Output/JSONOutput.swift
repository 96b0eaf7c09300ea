import Foundation
import Formats

/// Prints one JSON document on stdout (cli.md: `--json` prints that and nothing else there).
enum JSONOutput {
    static func print(_ value: MetadataValue) {
        Swift.print(value.jsonString(pretty: true))
    }
}

/// Messages for stderr: logs and warnings never go to stdout.
enum Terminal {
    static func error(_ message: String) {
        var stderr = StandardError()
        Swift.print("error: " + message, to: &stderr)
    }

    static func warning(_ message: String) {
        var stderr = StandardError()
        Swift.print("warning: " + message, to: &stderr)
    }

    static func info(_ message: String) {
        var stderr = StandardError()
        Swift.print(message, to: &stderr)
    }
}

/// stderr as a `TextOutputStream`.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleStderr.write(string)
    }
}

#if canImport(Glibc)
    import Glibc
#endif

enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
    }
}

/// Human sizes for tables: `75.9 MB`.
enum ByteCountText {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = Double(bytes)
        var i = 0
        while v >= 1000, i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
    }
}

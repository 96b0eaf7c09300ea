/// Decoders for the text arguments of protocol 0's `STRING` and `UNICODE` opcodes.
enum PickleText {
    /// `STRING`: a Python `repr` of a byte string, quoted with `'` or `"`, with backslash
    /// escapes (`\\ \' \" \n \r \t \xHH` and octal). The bytes are decoded as UTF-8, as
    /// `torch.load` asks (`encoding="utf-8"`).
    static func quoted(_ text: String, fail: FormatError) throws(FormatError) -> String {
        let b = Array(text.utf8)
        guard b.count >= 2, let q = b.first, q == 0x27 || q == 0x22, b.last == q else { throw fail }
        var out: [UInt8] = []
        var i = 1
        while i < b.count - 1 {
            let c = b[i]
            i += 1
            guard c == 0x5C else {
                out.append(c)
                continue
            }
            guard i < b.count - 1 else { throw fail }
            let e = b[i]
            i += 1
            switch e {
            case 0x5C, 0x27, 0x22: out.append(e)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "x"):
                guard i + 2 <= b.count - 1,
                    let v = UInt8(String(decoding: b[i..<i + 2], as: UTF8.self), radix: 16)
                else { throw fail }
                out.append(v)
                i += 2
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = Int(e - 0x30)
                var n = 1
                while n < 3, i < b.count - 1, (0x30...0x37).contains(b[i]) {
                    v = v * 8 + Int(b[i] - 0x30)
                    i += 1
                    n += 1
                }
                guard v <= 255 else { throw fail }
                out.append(UInt8(v))
            default: throw fail
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail }
        return s
    }

    /// `UNICODE`: Python's `raw-unicode-escape`: bytes are Latin-1 code points, except
    /// `\uXXXX` and `\UXXXXXXXX` escapes.
    static func rawUnicodeEscape(_ b: [UInt8], fail: FormatError) throws(FormatError) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x5C, i + 1 < b.count,
                b[i + 1] == UInt8(ascii: "u") || b[i + 1] == UInt8(ascii: "U")
            {
                let n = b[i + 1] == UInt8(ascii: "u") ? 4 : 8
                guard i + 2 + n <= b.count,
                    let v = UInt32(
                        String(decoding: b[(i + 2)..<(i + 2 + n)], as: UTF8.self), radix: 16),
                    let s = Unicode.Scalar(v)
                else { throw fail }
                scalars.append(s)
                i += 2 + n
            } else {
                scalars.append(Unicode.Scalar(c))
                i += 1
            }
        }
        return String(scalars)
    }
}

import Foundation
import Testing
import TestSupport

@testable import Formats

@Suite("Pickle machine: builds data, never runs code")
struct PickleMachineTests {
    static let forbidden: [(String, String)] = [
        ("posix", "system"), ("os", "system"), ("nt", "system"), ("builtins", "eval"),
        ("__builtin__", "eval"), ("builtins", "exec"), ("builtins", "getattr"),
        ("builtins", "__import__"), ("subprocess", "Popen"), ("runpy", "_run_code"),
        ("pickle", "loads"), ("torch.serialization", "load"), ("functools", "partial"),
        ("operator", "attrgetter"), ("numpy.core.multiarray", "_reconstruct"), ("torch", "load"),
        ("torch", "FooStorage"), ("torch.cuda", "QInt8Storage"), ("collections", "deque"),
    ]

    @Test("a global outside the allow-list is refused at its GLOBAL offset", arguments: forbidden)
    func forbiddenGlobal(module: String, name: String) throws {
        let marker = TestPaths.temporaryDirectory("pwned") + "/ran"
        var p = PickleBuilder()
        p.proto(2)
        p.op(.emptyDict)
        p.string("w")
        let at = p.offset
        p.global(module, name)
        p.string("touch " + marker)
        p.op(.tuple1)
        p.op(.reduce)
        p.op(.setItem)
        p.op(.stop)
        let error = try #require(throws: FormatError.self) { try p.run(name: "evil.pkl") }
        #expect(error.reason == .forbiddenGlobal("\(module).\(name)"))
        #expect(error.offset == at)
        #expect(error.file == "evil.pkl")
        #expect(error.field == "pickle GLOBAL")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("STACK_GLOBAL with its operands hidden in the memo is refused at its own offset")
    func stackGlobalThroughMemo() throws {
        var p = PickleBuilder()
        p.proto(4)
        p.shortString("posix")
        p.op(.memoize)
        p.op(.pop)
        p.shortString("system")
        p.op(.memoize)
        p.op(.pop)
        p.bytes += [PickleOpcode.binGet.rawValue, 0, PickleOpcode.binGet.rawValue, 1]
        let at = p.offset
        p.op(.stackGlobal)
        p.shortString("echo pwned")
        p.op(.tuple1)
        p.op(.reduce)
        p.op(.stop)
        let error = try #require(throws: FormatError.self) { try p.run() }
        #expect(error.reason == .forbiddenGlobal("posix.system"))
        #expect(error.offset == at)
    }

    @Test("INST names its class like GLOBAL and is refused the same way")
    func instForbidden() throws {
        var p = PickleBuilder()
        p.op(.mark)
        p.string("id")
        let at = p.offset
        p.op(.inst)
        p.bytes += Array("os\nsystem\n".utf8)
        p.op(.stop)
        let error = try #require(throws: FormatError.self) { try p.run() }
        #expect(error.reason == .forbiddenGlobal("os.system"))
        #expect(error.offset == at)
    }

    @Test("allowed torch rebuilds that ckpt does not read are unsupported, not called")
    func unsupportedRebuild() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.global("torch._utils", "_rebuild_sparse_tensor")
        p.op(.emptyTuple)
        let at = p.offset
        p.op(.reduce)
        p.op(.stop)
        let error = try #require(throws: FormatError.self) { try p.run() }
        guard case .unsupported = error.reason else {
            Issue.record("expected unsupported, got \(error)")
            return
        }
        #expect(error.offset == at)
    }

    @Test(
        "malformed pickles fail at the opcode that breaks",
        arguments: [
            ([0x80, 0x02, 0xFF], 2, "unknown pickle opcode 0xff"),
            ([0x80, 0x02, 0x85], 2, "stack underflow"),  // TUPLE1 on an empty stack
            ([0x80, 0x02, 0x68, 0x05], 2, "memo entry 5 is not set"),  // BINGET 5
            ([0x80, 0x02, 0x75], 2, "no MARK on the stack"),  // SETITEMS
            ([0x4E, 0x4E, 0x61], 2, "APPEND on a None, not a list"),
            ([0x80, 0x09], 0, "unsupported: pickle protocol 9"),
            ([0x28, 0x4E, 0x4E, 0x4E, 0x64, 0x2E], 4, "odd number of items (3) for a dict"),
        ] as [([UInt8], Int, String)])
    func malformed(bytes: [UInt8], offset: Int, message: String) throws {
        let error = try #require(throws: FormatError.self) {
            var m = PickleMachine(ByteBuffer(copying: bytes, name: "bad.pkl").all)
            _ = try m.load()
        }
        #expect(error.offset == offset)
        #expect(error.description.contains(message), "\(error)")
    }

    @Test("a length past the end is truncated, not read")
    func truncatedString() throws {
        let bytes: [UInt8] = [0x80, 0x02, 0x58, 100, 0, 0, 0, 0x61, 0x62, 0x63]
        let error = try #require(throws: FormatError.self) {
            var m = PickleMachine(ByteBuffer(copying: bytes, name: "t.pkl").all)
            _ = try m.load()
        }
        #expect(error.reason == .truncated(needed: 100, available: 3))
        #expect(error.offset == 7)
    }

    @Test("a pickle without STOP is truncated")
    func missingStop() throws {
        let error = try #require(throws: FormatError.self) {
            var m = PickleMachine(ByteBuffer(copying: [0x80, 0x02, 0x4E], name: "t.pkl").all)
            _ = try m.load()
        }
        #expect(error.reason == .truncated(needed: 1, available: 0))
        #expect(error.offset == 3)
    }

    @Test("open MARKs are capped")
    func markCap() throws {
        let bytes = [UInt8](
            repeating: PickleOpcode.mark.rawValue, count: PickleMachine.maxMarkDepth + 1)
        let error = try #require(throws: FormatError.self) {
            var m = PickleMachine(ByteBuffer(copying: bytes, name: "m.pkl").all)
            _ = try m.load()
        }
        guard case .limitExceeded = error.reason else {
            Issue.record("expected limitExceeded, got \(error)")
            return
        }
        #expect(error.offset == PickleMachine.maxMarkDepth)
    }

    @Test("200000 nested TUPLE1s build and free without deep recursion")
    func deepNesting() throws {
        var p = PickleBuilder()
        p.op(.none)
        p.bytes += [UInt8](repeating: PickleOpcode.tuple1.rawValue, count: 200_000)
        p.op(.stop)
        let (v, m) = try p.run()
        guard case .tuple(let items)? = m.arena.object(v) else {
            Issue.record("not a tuple")
            return
        }
        #expect(items.count == 1)
        #expect(m.arena.objects.count == 200_000)
    }

    @Test("scalars decode as pickle.py writes them")
    func scalars() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.mark)
        p.int(-5)
        p.bytes += [PickleOpcode.binInt2.rawValue, 0xFF, 0xFF]
        p.bytes += [PickleOpcode.long1.rawValue, 1, 0xFF]  // -1
        p.bytes += [PickleOpcode.long1.rawValue, 0]  // 0
        p.long(Int.min)
        p.bytes += [PickleOpcode.long1.rawValue, 9] + [UInt8](repeating: 0, count: 8) + [1]  // 2^64
        p.op(.binFloat)
        p.bytes += withUnsafeBytes(of: (1.5).bitPattern.bigEndian) { Array($0) }
        p.op(.newTrue)
        p.op(.none)
        p.shortString("é")
        p.op(.tuple)
        p.op(.stop)
        let (v, m) = try p.run()
        guard case .tuple(let items)? = m.arena.object(v) else {
            Issue.record("not a tuple")
            return
        }
        #expect(
            items == [
                .int(-5), .int(65535), .int(-1), .int(0), .int(Int.min),
                .bigInt([0, 0, 0, 0, 0, 0, 0, 0, 1]),
                .float(1.5), .bool(true), .none, .string("é"),
            ])
    }

    @Test("protocol 0 text opcodes: INT, LONG, FLOAT, STRING, UNICODE, PUT/GET")
    func protocol0() throws {
        let text = "(lp0\nI1\naI01\naL12L\naF1.5\naS'a\\x41\\n'\naVcaf\\u00e9\nag0\na."
        var m = PickleMachine(ByteBuffer(copying: Array(text.utf8), name: "p0.pkl").all)
        let (v, _) = try m.load()
        guard case .list(let items)? = m.arena.object(v) else {
            Issue.record("not a list")
            return
        }
        #expect(
            Array(items.prefix(6)) == [
                .int(1), .bool(true), .int(12), .float(1.5), .string("aA\n"), .string("café"),
            ])
        #expect(items.count == 7)
        #expect(items.last == v)  // the list appended to itself, through the memo
    }

    @Test("memoized containers are shared: an APPEND after BINGET is seen everywhere")
    func sharedContainers() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.emptyList)
        p.bytes += [PickleOpcode.binPut.rawValue, 0]
        p.op(.pop)
        p.op(.emptyDict)
        p.string("a")
        p.bytes += [PickleOpcode.binGet.rawValue, 0]
        p.op(.setItem)
        p.bytes += [PickleOpcode.binGet.rawValue, 0]
        p.int(7)
        p.op(.append)
        p.op(.pop)
        p.op(.stop)
        let (v, m) = try p.run()
        guard case .dict(let d)? = m.arena.object(v), let list = d[.string("a")],
            case .list(let items)? = m.arena.object(list)
        else {
            Issue.record("unexpected shape")
            return
        }
        #expect(items == [.int(7)])
    }

    @Test("_codecs.encode(str, 'latin1') is how protocol 2 spells bytes")
    func codecsBytes() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.global("_codecs", "encode")
        p.string("\u{FF}a")
        p.string("latin1")
        p.op(.tuple2)
        p.op(.reduce)
        p.op(.stop)
        let (v, m) = try p.run()
        guard case .bytes(let b)? = m.arena.object(v) else {
            Issue.record("not bytes")
            return
        }
        #expect(b.bytes == [0xFF, 0x61])
    }

    @Test("calls repeated on a memoized argument cannot amplify a small pickle")
    func copyAmplification() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.op(.mark)
        for _ in 0..<1000 {
            p.op(.none)
            p.op(.none)
            p.op(.tuple2)
        }
        p.op(.list)
        p.bytes += [PickleOpcode.binPut.rawValue, 0]
        p.op(.pop)
        p.global("collections", "OrderedDict")
        p.bytes += [PickleOpcode.binPut.rawValue, 1]
        p.op(.pop)
        for _ in 0..<2000 {
            p.bytes += [PickleOpcode.binGet.rawValue, 1, PickleOpcode.binGet.rawValue, 0]
            p.op(.tuple1)
            p.op(.reduce)
            p.op(.pop)
        }
        p.op(.none)
        p.op(.stop)
        #expect(p.bytes.count < 20_000)
        let error = try #require(throws: FormatError.self) { try p.run() }
        guard case .limitExceeded = error.reason else {
            Issue.record("expected limitExceeded, got \(error)")
            return
        }
        #expect(error.field == "pickle REDUCE")
    }

    @Test("a long memoized key set again and again is bounded")
    func keyHashing() throws {
        var p = PickleBuilder()
        p.proto(2)
        p.string(String(repeating: "k", count: 100_000))
        p.bytes += [PickleOpcode.binPut.rawValue, 0]
        p.op(.pop)
        p.op(.emptyDict)
        for _ in 0..<20_000 {
            p.bytes += [PickleOpcode.binGet.rawValue, 0]
            p.op(.none)
            p.op(.setItem)
        }
        p.op(.stop)
        let error = try #require(throws: FormatError.self) { try p.run() }
        guard case .limitExceeded = error.reason else {
            Issue.record("expected limitExceeded, got \(error)")
            return
        }
        #expect(error.field == "pickle SETITEM")
    }

    @Test("random byte soup never crashes the machine")
    func randomBytes() {
        var rng = SplitMix64(seed: 42)
        let opcodes = PickleOpcode.allCases.map(\.rawValue)
        var failures = 0
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 40)
            var bytes: [UInt8] = []
            for _ in 0..<n {
                let r = rng.next()
                bytes.append(
                    r % 4 == 0
                        ? UInt8(truncatingIfNeeded: r >> 8)
                        : opcodes[Int((r >> 8) % UInt64(opcodes.count))])
            }
            var m = PickleMachine(ByteBuffer(copying: bytes, name: "soup").all)
            do { _ = try m.load() } catch { failures += 1 }
        }
        #expect(failures > 0)
    }
}

/// A small deterministic generator (so failures reproduce).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

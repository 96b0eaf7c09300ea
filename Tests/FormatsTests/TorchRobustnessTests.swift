import Foundation
import Testing
import TestSupport

@testable import Formats

@Suite("PyTorch reader under mutation")
struct TorchRobustnessTests {
    /// Opens and reads every tensor; true when it all worked, false on a FormatError. A crash
    /// (trap, overflow, out-of-bounds read) fails the whole test run.
    static func survive(_ bytes: [UInt8]) -> Bool {
        do {
            let ckpt = try TorchCheckpoint(buffer: ByteBuffer(copying: bytes, name: "mutant.pt"))
            for t in ckpt.tensors {
                let b = try ckpt.bytes(of: t)
                guard b.count == t.byteCount else { return false }
            }
            return true
        } catch {
            return false
        }
    }

    @Test(
        "flipped and truncated bytes give a checkpoint or a FormatError, never a crash",
        arguments: [
            "legacy.pt", "shared.pt", "proto4.pt", "pytorch_model.bin", "param.pt",
            "malicious_legacy.pt", "deflated.pt",
        ])
    func mutations(file: String) throws {
        let path = TestPaths.fixture("torch/" + file)
        let original = try #require(FileManager.default.contents(atPath: path).map(Array.init))
        var failures = 0
        var runs = 0
        for i in 0..<original.count {
            for mutate: (UInt8) -> UInt8 in [{ $0 ^ 0xFF }, { $0 &+ 1 }, { _ in 0 }] {
                var b = original
                b[i] = mutate(b[i])
                runs += 1
                if !Self.survive(b) { failures += 1 }
            }
            if i % 3 == 0 {
                runs += 1
                if !Self.survive(Array(original.prefix(i))) { failures += 1 }
            }
        }
        #expect(runs > 3 * original.count)
        #expect(failures > 0)
    }

    @Test(
        "mutated data.pkl of real archives runs or fails cleanly in the machine",
        arguments: ["pytorch_model.bin", "proto4.pt", "param.pt", "newdtypes.pt"])
    func pickleMutations(file: String) throws {
        let zip = try ZipArchive(path: TestPaths.fixture("torch/" + file))
        let entry = try #require(zip.entries.first { $0.name.hasSuffix("/data.pkl") })
        let original = try zip.data(of: entry).bytes
        var failures = 0
        for i in 0..<original.count {
            for mutate: (UInt8) -> UInt8 in [{ $0 ^ 0xFF }, { $0 &+ 1 }, { $0 &- 1 }, { _ in 0 }] {
                var b = original
                b[i] = mutate(b[i])
                var m = PickleMachine(ByteBuffer(copying: b, name: "data.pkl").all)
                do {
                    let (root, _) = try m.load()
                    _ = try TorchCheckpoint.flatten(root, m.arena, file: "data.pkl")
                } catch {
                    failures += 1
                }
            }
        }
        #expect(failures > 0)
    }

    @Test("every single-byte change of a hand-built legacy file is survived")
    func handBuiltMutations() {
        let (object, _) = LegacyBuilder.stateDict(
            numel: 6, offset: 0, size: [3, 2], stride: [1, 3])
        let file = LegacyBuilder.file(
            object: object, keys: ["0"], storages: [(6, LegacyBuilder.floats([0, 1, 2, 3, 4, 5]))])
        #expect(Self.survive(file))
        var rng = SplitMix64(seed: 7)
        for i in 0..<file.count {
            for _ in 0..<8 {
                var b = file
                b[i] = UInt8(truncatingIfNeeded: rng.next())
                _ = Self.survive(b)
            }
        }
    }
}

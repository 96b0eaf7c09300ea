import Foundation
import Formats
import Testing
import TestSupport

@Suite("Sharded safetensors")
struct SafetensorsShardTests {
    /// Six tensors; with an 80-byte limit they split [embed, l0.w] [big] [l0.b, l1.w, norm].
    static let tensors: [(String, DType, [Int], [UInt8])] = [
        ("embed", .f32, [4, 4], (0..<64).map { UInt8($0) }),
        ("l0.w", .f16, [8], (0..<16).map { UInt8(100 + $0) }),
        ("l0.b", .f32, [2], (0..<8).map { UInt8(200 + $0) }),
        ("big", .u8, [100], (0..<100).map { UInt8($0 ^ 0x5A) }),
        ("l1.w", .i64, [4], (0..<32).map { UInt8(3 * $0) }),
        ("norm", .f32, [1], [0, 0, 0x80, 0x3F]),
    ]
    static var plan: [TensorInfo] {
        tensors.map {
            TensorInfo(name: $0.0, type: .dense($0.1), shape: $0.2, byteCount: $0.3.count)
        }
    }

    static func writeSharded(
        _ dir: String, limit: Int, metadata: Metadata = ["format": .string("pt")]
    ) throws
        -> ShardedSafetensorsWriter
    {
        var sink = ShardedSafetensorsWriter(directory: dir, maxShardBytes: limit, baseName: "model")
        try sink.begin(metadata: metadata, plan: plan)
        for (info, t) in zip(plan, tensors) { try ST.write(t.3, info, into: &sink) }
        try sink.commit()
        return sink
    }

    @Test(
        "huggingface_hub's split rule: oversized tensors alone, new shard when the next would overflow"
    )
    func splitRule() {
        #expect(
            ShardedSafetensorsWriter.shards(of: Self.plan, maxShardBytes: 80) == [
                [0, 1], [3], [2, 4, 5],
            ])
        #expect(
            ShardedSafetensorsWriter.shards(of: Self.plan, maxShardBytes: 1000) == [
                [0, 1, 2, 3, 4, 5]
            ])
        #expect(
            ShardedSafetensorsWriter.shards(of: Self.plan, maxShardBytes: 1) == [
                [0], [1], [2], [3], [4], [5],
            ])
        #expect(ShardedSafetensorsWriter.shards(of: [], maxShardBytes: 10) == [[]])
        #expect(
            ShardedSafetensorsWriter.shardName(1, of: 3, baseName: "model")
                == "model-00002-of-00003.safetensors")
        #expect(
            ShardedSafetensorsWriter.shardName(0, of: 1, baseName: "model") == "model.safetensors")
    }

    @Test(
        "shards and index as transformers writes them; Python reads every shard back",
        .enabled(if: Python.available))
    func pythonReadsShards() throws {
        let dir = TestPaths.temporaryDirectory()
        let sink = try Self.writeSharded(dir, limit: 80)
        #expect(sink.shardNames == (1...3).map { "model-0000\($0)-of-00003.safetensors" })
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == sink.shardNames + ["model.safetensors.index.json"])
        let want = MetadataValue.object(
            Metadata(
                uniqueKeysWithValues: Self.tensors.map {
                    ($0.0, .string($0.3.map { String(format: "%02x", $0) }.joined()))
                }))
        let r = try Python.run(
            """
            import sys, json, os
            from safetensors.numpy import load_file
            from safetensors import safe_open
            d, want = sys.argv[1], json.loads(sys.argv[2])
            index_text = open(os.path.join(d, "model.safetensors.index.json")).read()
            weight_map, total, params, ok = {}, 0, 0, []
            for name in sorted(f for f in os.listdir(d) if f.endswith(".safetensors")):
                got = load_file(os.path.join(d, name))
                with safe_open(os.path.join(d, name), framework="np") as f:
                    assert f.metadata() == {"format": "pt"}, f.metadata()
                for k, v in got.items():
                    weight_map[k] = name
                    total += v.nbytes
                    params += v.size
                    if v.tobytes().hex() == want[k]:
                        ok.append(k)
            expected = json.dumps({"metadata": {"total_parameters": params, "total_size": total},
                                   "weight_map": weight_map}, indent=2, sort_keys=True) + "\\n"
            print(json.dumps({"ok": sorted(ok), "index_matches": index_text == expected}))
            """, [dir, want.jsonString()])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try JSON.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(doc["index_matches"] == .bool(true))
        #expect(
            (doc["ok"]?.arrayValue ?? []).compactMap(\.stringValue)
                == Self.tensors.map(\.0).sorted())
    }

    @Test("everything in one shard gives model.safetensors and no index")
    func singleShard() throws {
        let dir = TestPaths.temporaryDirectory()
        let sink = try Self.writeSharded(dir, limit: 1 << 20)
        #expect(sink.shardNames == ["model.safetensors"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
        let file = try SafetensorsFile(path: dir + "/model.safetensors")
        #expect(Set(file.tensors.map(\.name)) == Set(Self.tensors.map(\.0)))
    }

    @Test("ShardedSource reads our shards in shard order, then file order, each tensor found in its shard")
    func shardedSourceOrder() throws {
        let dir = TestPaths.temporaryDirectory()
        _ = try Self.writeSharded(dir, limit: 80)
        let source = try ShardedSource(index: dir + "/model.safetensors.index.json")
        #expect(source.tensors.map(\.name) == ["embed", "l0.w", "big", "l1.w", "l0.b", "norm"])
        #expect(source.tensors.map { source.shard(of: $0.name) } == [0, 0, 1, 2, 2, 2])
        #expect(
            source.files.map { $0.split(separator: "/").last.map(String.init) ?? "" }
                == (1...3).map { "model-0000\($0)-of-00003.safetensors" })
        #expect(source.metadata == ["format": .string("pt")])
        #expect(source.indexMetadata["total_size"] == .int64(64 + 16 + 8 + 100 + 32 + 4))
        #expect(source.indexMetadata["total_parameters"] == .int64(16 + 8 + 2 + 100 + 4 + 1))
        for t in Self.tensors {
            let info = try #require(source.tensor(named: t.0))
            #expect(try source.bytes(of: info).bytes == t.3)
        }
    }

    @Test("the Hugging Face fixture reads through its index")
    func fixture() throws {
        let source = try ShardedSource(
            index: TestPaths.fixture("safetensors/sharded/model.safetensors.index.json"))
        #expect(
            source.tensors.map(\.name) == [
                "model.embed.weight", "model.norm.weight", "model.layers.0.ids", "lm_head.weight",
            ])
        #expect(source.tensors.map { source.shard(of: $0.name) } == [0, 0, 1, 1])
        let embed = try source.bytes(of: try #require(source.tensor(named: "model.embed.weight")))
        let values = (0..<12).map {
            embed.raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self)
        }
        #expect(values == (0..<12).map(Float.init))
        #expect(source.indexMetadata["total_size"] == .int64(48 + 6 + 24 + 24))
    }

    /// A copy of the fixture directory whose index is `edit(weight_map)`.
    static func staleCopy(_ edit: (inout [String: String]) -> Void) throws -> String {
        let src = TestPaths.fixture("safetensors/sharded")
        let dir = TestPaths.temporaryDirectory()
        for name in try FileManager.default.contentsOfDirectory(atPath: src) {
            try FileManager.default.copyItem(atPath: src + "/" + name, toPath: dir + "/" + name)
        }
        var map: [String: String] = [
            "lm_head.weight": "model-00002-of-00002.safetensors",
            "model.embed.weight": "model-00001-of-00002.safetensors",
            "model.layers.0.ids": "model-00002-of-00002.safetensors",
            "model.norm.weight": "model-00001-of-00002.safetensors",
        ]
        edit(&map)
        let index = MetadataValue.object([
            "weight_map": .object(
                Metadata(
                    uniqueKeysWithValues: map.sorted { $0.key < $1.key }.map {
                        ($0.key, .string($0.value))
                    }))
        ])
        try index.jsonString(pretty: true).write(
            toFile: dir + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        return dir
    }

    static func indexError(_ dir: String) -> FormatError? {
        do { _ = try ShardedSource(index: dir + "/model.safetensors.index.json") } catch {
            return error
        }
        return nil
    }

    @Test("a stale index is an error naming both sides")
    func staleIndex() throws {
        // A shard the index names is missing.
        let missing = try Self.staleCopy { _ in }
        try FileManager.default.removeItem(atPath: missing + "/model-00002-of-00002.safetensors")
        let e1 = try #require(Self.indexError(missing))
        #expect(e1.file == missing + "/model.safetensors.index.json")
        #expect(e1.field == "weight_map[\"lm_head.weight\"]")
        #expect(
            e1.message.contains("model-00002-of-00002.safetensors")
                && e1.message.contains("does not exist"))
        #expect(e1.offset != nil)

        // The index maps a tensor to a shard that does not hold it.
        let ghost = try Self.staleCopy { $0["ghost"] = "model-00001-of-00002.safetensors" }
        let e2 = try #require(Self.indexError(ghost))
        #expect(e2.file == ghost + "/model.safetensors.index.json")
        #expect(e2.field == "weight_map[\"ghost\"]")
        #expect(e2.message.contains("model-00001-of-00002.safetensors"))
        let text = try String(
            contentsOfFile: ghost + "/model.safetensors.index.json", encoding: .utf8)
        let key = try #require(text.range(of: "\"ghost\""))
        let at = try #require(
            text.range(
                of: "\"model-00001-of-00002.safetensors\"", range: key.upperBound..<text.endIndex))
        #expect(e2.offset == text.utf8.distance(from: text.startIndex, to: at.lowerBound))

        // A shard holds a tensor the index does not list.
        let unlisted = try Self.staleCopy { $0["model.norm.weight"] = nil }
        let e3 = try #require(Self.indexError(unlisted))
        #expect(e3.file == unlisted + "/model-00001-of-00002.safetensors")
        #expect(e3.field == "model.norm.weight")
        #expect(e3.message.contains("model.safetensors.index.json"))

        // The index maps a tensor to the other shard than the one holding it.
        let moved = try Self.staleCopy {
            $0["model.norm.weight"] = "model-00002-of-00002.safetensors"
        }
        let e4 = try #require(Self.indexError(moved))
        #expect(e4.file == moved + "/model-00001-of-00002.safetensors")
        #expect(e4.message.contains("model-00002-of-00002.safetensors"))

        // A path leaving the directory.
        let escape = try Self.staleCopy { $0["x"] = "../model.safetensors" }
        #expect(Self.indexError(escape)?.field == "weight_map[\"x\"]")
    }

    @Test("a name in two shards is an error naming both shards")
    func nameInTwoShards() throws {
        let dir = try Self.staleCopy { _ in }
        let second = dir + "/model-00002-of-00002.safetensors"
        try FileManager.default.removeItem(atPath: second)
        try ST.writeWithUs(
            [
                ("lm_head.weight", .f32, [1], [0, 0, 0, 0]),
                ("model.layers.0.ids", .i64, [1], [1, 0, 0, 0, 0, 0, 0, 0]),
                ("model.norm.weight", .f16, [1], [0, 0x3C]),
            ],
            metadata: [:], to: second)
        let e = try #require(Self.indexError(dir))
        #expect(e.file == second && e.field == "model.norm.weight")
        #expect(
            e.message.contains("two shards")
                && e.message.contains("model-00001-of-00002.safetensors"))

        // Without an index too.
        let first = dir + "/model-00001-of-00002.safetensors"
        #expect(throws: FormatError.self) { try ShardedSource(files: [first, second]) }
        do { _ = try ShardedSource(files: [first, second]) } catch {
            #expect(error.message.contains(first) && error.message.contains(second))
        }
    }

    @Test("mutations of an index open or throw FormatError; what opens reads in bounds")
    func indexMutations() throws {
        let dir = try Self.staleCopy { _ in }
        let path = dir + "/model.safetensors.index.json"
        let original = try ST.read(path)
        var rejected = 0
        for i in 0..<original.count {
            for flip: UInt8 in [0x01, 0x20] {
                var m = original
                m[i] ^= flip
                try ST.write(m, to: path)
                do {
                    let source = try ShardedSource(index: path)
                    #expect(source.tensors.count == 4)
                    for t in source.tensors { #expect(try source.bytes(of: t).count == t.byteCount) }
                } catch {
                    rejected += 1
                    #expect(error.file != nil)
                }
            }
        }
        #expect(rejected > original.count)
    }
}

import Foundation
import TestSupport
import Testing

@Suite("ckpt lint")
struct LintCommandTests {
    @Test("Exit 1 with findings naming file and tensor; --json lists them; exit 0 on a clean model")
    func exitAndJSON() throws {
        let dir = TestPaths.temporaryDirectory("lint-cli")
        // A safetensors file with a NaN: an error.
        let header = #"{"x.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        let nan = Float.nan.bitPattern.littleEndian, one = Float(1).bitPattern.littleEndian
        let bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json
            + withUnsafeBytes(of: nan, Array.init) + withUnsafeBytes(of: one, Array.init)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/m.safetensors"))
        let r = try CLI.run(["lint", dir + "/m.safetensors"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("error: [non-finite]") && r.stdout.contains("x.weight"))
        let j = try CLI.run(["lint", "--json", dir + "/m.safetensors"])
        let doc = try #require(try CLI.json(j) as? [String: Any])
        #expect(doc["passed"] as? Bool == false)
        let findings = try #require(doc["findings"] as? [[String: Any]])
        #expect(findings.first?["tensor"] as? String == "x.weight")
        #expect(findings.first?["code"] as? String == "non-finite")
        if let minilm = TestPaths.model("all-minilm-l6-v2") {
            #expect(try CLI.run(["lint", minilm]).status == 0)
        }
        let missing = try CLI.run(["lint", dir + "/absent"])
        #expect(missing.status == 2 && missing.stderr.hasPrefix("error:"))
    }
}

import Foundation
import Testing
import TestSupport

@Suite("A convert killed with SIGKILL")
struct KillDuringConvertTests {
    @Test("leaves no output and no catalog entry for it; the catalog still opens",
          .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func killed() throws {
        let src = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let dir = TestPaths.temporaryDirectory()
        let db = dir + "/catalog.sqlite"
        let dst = dir + "/out.gguf"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        // Re-quantizing every tensor to Q4_K_M takes seconds: long enough to be killed mid-way.
        p.arguments = ["convert", src, dst, "--gguf-type", "Q4_K_M", "--pure", "--catalog", db]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until the temporary output exists (the conversion is under way), then kill.
        var started = false
        for _ in 0..<400 where !started {
            usleep(25_000)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            started = names.contains { $0.hasPrefix(".out.gguf.tmp-") }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try #require(started, "the conversion never started writing")
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(!FileManager.default.fileExists(atPath: dst))
        let list = try CLI.run(["list", "--json", "--catalog", db])
        #expect(list.status == 0, "\(list.stderr)")
        let entries = (try? CLI.json(list) as? [[String: Any]]) ?? []
        #expect(!entries.contains { ($0["path"] as? String)?.hasSuffix("out.gguf") == true })
    }
}

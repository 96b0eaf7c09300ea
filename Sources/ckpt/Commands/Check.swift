import ArgumentParser
import Catalog
import Formats

/// `ckpt check [ID...]`: re-hash files and report missing, moved or modified ones.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Re-hash the files of entries (all by default); report missing, moved or modified ones."
    )

    @OptionGroup var catalog: CatalogOptions
    @Argument(help: "Entry ids or paths (default: every entry).") var references: [String] = []
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        let c = try catalog.open()
        var ids: [Int64] = []
        for r in references { ids.append(try c.resolve(r)) }
        let reports = try c.check(ids: ids)
        if json {
            JSONOutput.print(
                .array(
                    reports.map { r in
                        .object([
                            "id": .int64(r.entry.id), "path": .string(r.entry.checkpoint.path),
                            "clean": .bool(r.isClean),
                            "files": .array(
                                r.files.map { f in
                                    var o: Metadata = [
                                        "path": .string(f.file.path),
                                        "state": .string(f.state.name),
                                    ]
                                    switch f.state {
                                    case .moved(let to): o["moved_to"] = .string(to)
                                    case .modified(let size, let sha):
                                        o["size_bytes"] = .int64(size)
                                        o["sha256"] = .string(sha)
                                    case .unreadable(let why): o["error"] = .string(why)
                                    default: break
                                    }
                                    return .object(o)
                                }),
                        ])
                    }))
        } else {
            for r in reports {
                print("#\(r.entry.id) \(r.entry.checkpoint.path): \(r.isClean ? "ok" : "CHANGED")")
                for f in r.files where f.state != .ok {
                    var line = "  \(f.state.name): \(f.file.path)"
                    if case .moved(let to) = f.state { line += " -> \(to)" }
                    print(line)
                }
            }
        }
        if !reports.allSatisfy(\.isClean) { throw ExitCode(1) }
    }
}

import Archive
import ArgumentParser
import Catalog
import Foundation
import Formats

struct Pack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compress a checkpoint file or directory into one .ckz archive, losslessly.",
        discussion: """
            Floating tensors are split into byte planes compressed one by one with zstd; headers,
            integer and quantized tensors and other files go through zstd as they are. `ckpt unpack`
            restores every file byte for byte; `ckpt inspect` reads the archive like a checkpoint.
            Example: ckpt pack models/smollm2 smollm2.ckz --level 3
            """)

    @Argument(help: "A checkpoint file or a directory (every file under it is packed).")
    var source: String

    @Argument(help: "The archive to write (.ckz).")
    var destination: String

    @Option(help: "zstd compression level (1-19; negative: faster).")
    var level: Int = 3

    @Flag(help: "Print the result as one JSON document on stdout.")
    var json = false

    @OptionGroup var catalog: CatalogOptions

    func validate() throws {
        guard (-7...22).contains(level) else { throw ValidationError("--level must be in -7...22") }
    }

    func run() throws {
        let start = Date()
        let (s, entry, warning) = try CatalogedOperations.pack(
            source, to: destination, level: level, catalogPath: catalog.path)
        let seconds = Date().timeIntervalSince(start)
        if let warning { Terminal.log("warning: \(warning)") }
        if let entry, !json { Terminal.log("catalog: recorded as #\(entry.id)") }
        if json {
            let doc: MetadataValue = .object([
                "files": .int64(Int64(s.files)), "source_bytes": .int64(Int64(s.sourceBytes)),
                "archive_bytes": .int64(Int64(s.archiveBytes)), "ratio": .float64(s.ratio),
                "seconds": .float64(seconds),
            ])
            print(doc.jsonString())
        } else {
            print(
                "\(destination): \(s.files) file(s), \(Terminal.bytes(s.sourceBytes)) → \(Terminal.bytes(s.archiveBytes))"
                    + String(format: " (%.3f×) in %.2f s", s.ratio, seconds))
        }
    }
}

struct Unpack: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a .ckz archive to a file or directory, byte for byte.",
        discussion: """
            Every chunk's CRC-32 is checked; a damaged archive is an error naming the chunk, and
            nothing is written. DST must not exist (or be an empty directory). When the catalog
            recorded the archive (ckpt pack) and its source, every restored file's sha256 must
            equal the source's recorded one, else nothing is written.
            """)

    @Argument(help: "The archive (.ckz).")
    var archive: String

    @Argument(help: "The file or directory to create.")
    var destination: String

    @OptionGroup var catalog: CatalogOptions

    func run() throws {
        let (check, warning) = try CatalogedOperations.unpack(archive, to: destination, catalogPath: catalog.path)
        if let warning { Terminal.log("warning: \(warning)") }
        if let source = check.sourceEntry {
            Terminal.log("verified \(check.verified) file(s) against the sha256 recorded for #\(source.id) \(source.checkpoint.path)")
        }
    }
}

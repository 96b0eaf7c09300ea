import Formats

/// What `ckpt scan` did.
public struct ScanReport: Sendable {
    /// Entries registered or refreshed, in path order.
    public var registered: [CatalogEntry]
    /// Checkpoints found but not registered, with the reason (unreadable header, I/O).
    public var failures: [(path: String, error: CatalogError)]
}

extension Catalog {
    /// Registers every checkpoint under `directory` (or `directory` itself when it is one):
    /// model directories, loose checkpoint files and Hugging Face hub cache snapshots (with
    /// repo id and revision). Files of all checkpoints are hashed together, both cores busy;
    /// unchanged files (path, size, mtime) are not hashed again. Each entry is then written
    /// in its own short transaction, so concurrent writers wait little.
    ///
    /// A checkpoint that cannot be opened or read is reported in `failures`, never skipped
    /// silently; the others are still registered.
    /// - Parameters:
    ///   - directory: the directory to walk.
    ///   - open: opens a checkpoint (the command line passes `Checkpoint.open`).
    ///   - detect: tells checkpoints from other files (`Checkpoint.detectFormat`).
    public func scan(
        directory: String, open: CheckpointOpener, detect: FormatDetector
    ) throws(CatalogError) -> ScanReport {
        guard FileStat(path: directory) != nil else {
            throw CatalogError(.io("no such file or directory"), path: directory)
        }
        let candidates = CheckpointScanner.candidates(under: directory, detect: detect)
        var failures: [(String, CatalogError)] = []
        var items: [(path: String, description: CheckpointDescription, origin: CheckpointOrigin?)] =
            []
        for c in candidates {
            do {
                let source = try open(c.path)
                items.append(
                    (
                        c.path, CheckpointDescription(source: source),
                        c.repoId.map { CheckpointOrigin(repoId: $0, revision: c.revision) }
                    ))
            } catch {
                failures.append((c.path, CatalogError.wrap(error, path: c.path)))
            }
        }
        var registered: [CatalogEntry] = []
        for (item, prepared) in zip(items, try prepare(items)) {
            switch prepared {
            case .success(let p):
                do {
                    registered.append(try commit(p))
                } catch {
                    failures.append((item.path, error))
                }
            case .failure(let e): failures.append((item.path, e))
            }
        }
        return ScanReport(registered: registered, failures: failures)
    }

    /// Registers one existing checkpoint, opened through `open`, as `ckpt add` does.
    @discardableResult
    public func add(path: String, open: CheckpointOpener) throws(CatalogError) -> CatalogEntry {
        guard FileStat(path: path) != nil else {
            throw CatalogError(.io("no such file or directory"), path: path)
        }
        let source: any TensorSource
        do { source = try open(path) } catch { throw CatalogError.wrap(error, path: path) }
        return try register(path: path, source: source)
    }
}

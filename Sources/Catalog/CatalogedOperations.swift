import Convert
import Formats

/// Commands that read or write checkpoints, with their catalog records (cli.md "General":
/// every such command uses the catalog unless `--no-catalog`).
///
/// The conversion itself never depends on the catalog: a catalog that cannot be written
/// (busy beyond its timeout, newer schema, read-only disk) leaves the output in place and is
/// reported as a warning.
public enum CatalogedOperations {
    /// Converts, then registers the source (if new or changed) and the output, with the
    /// source as parent and the command as operation. Registration happens only after the
    /// output was renamed into place, in one transaction: a killed convert leaves no entry.
    public static func convert(
        _ request: ConversionRequest, catalogPath: String?,
        progress: (@Sendable (ConversionProgress) -> Void)? = nil
    ) throws -> (result: ConversionResult, entry: CatalogEntry?, warning: String?) {
        let source = try Checkpoint.open(request.source)
        let result = try Converter.convert(request, progress: progress)
        guard let catalogPath else { return (result, nil, nil) }
        do {
            let catalog = try Catalog(path: catalogPath)
            let parent = try catalog.register(path: request.source, source: source)
            let output = try Checkpoint.open(request.destination)
            let entry = try catalog.register(
                path: request.destination, source: output, parent: parent.id,
                operation: request.operationDescription)
            return (result, entry, nil)
        } catch {
            return (result, nil, "catalog not updated: \(error)")
        }
    }

    /// Opens a checkpoint for `ckpt inspect` and records it as seen.
    public static func inspect(_ path: String, catalogPath: String?) throws
        -> (inspection: Inspection, warning: String?)
    {
        let source = try Checkpoint.open(path)
        let inspection = Inspection(path: path, source: source)
        guard let catalogPath else { return (inspection, nil) }
        do {
            try Catalog(path: catalogPath).register(path: path, source: source)
            return (inspection, nil)
        } catch {
            return (inspection, "catalog not updated: \(error)")
        }
    }
}

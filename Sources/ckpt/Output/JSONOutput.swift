import Formats

/// Prints one JSON document on stdout (cli.md: `--json` prints that and nothing else there).
enum JSONOutput {
    static func print(_ value: MetadataValue) {
        Swift.print(value.jsonString(pretty: true))
    }
}

/// Where the catalog database lives (cli.md "Catalog").
///
/// The rule is a pure function of the flag and the environment so that the command line, a
/// library user and the tests all agree on it without touching global state.
public enum CatalogLocation {
    /// The file name under the data directory.
    public static let fileName = "catalog.sqlite"

    /// `--catalog PATH`, else `$CKPT_CATALOG`, else `$XDG_DATA_HOME/ckpt/catalog.sqlite`,
    /// else `$HOME/.local/share/ckpt/catalog.sqlite`.
    ///
    /// Empty values count as unset, as the XDG base directory specification asks.
    /// - Parameters:
    ///   - flag: the value of `--catalog`, if given.
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`).
    /// - Returns: the path, or nil when none of the variables (not even `HOME`) is set.
    public static func resolve(flag: String?, environment: [String: String]) -> String? {
        func value(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        if let flag = value(flag) { return flag }
        if let env = value(environment["CKPT_CATALOG"]) { return env }
        if let xdg = value(environment["XDG_DATA_HOME"]) { return xdg + "/ckpt/" + fileName }
        if let home = value(environment["HOME"]) {
            return home + "/.local/share/ckpt/" + fileName
        }
        return nil
    }
}

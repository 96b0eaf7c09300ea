import ArgumentParser
import Formats

#if canImport(Glibc)
import Glibc
#endif

@main
struct CKPT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Convert, quantize, verify and catalogue machine-learning checkpoints.",
        subcommands: [
            Inspect.self, Convert.self, Tokenize.self, List.self, Show.self, Add.self, Scan.self, Rm.self,
            LineageCommand.self, Check.self, Dupes.self, Forward.self, VerifyCommand.self, Generate.self,
            Pack.self, Unpack.self, Lint.self,
        ])

    static var _errorPrefix: String { "error: " }

    /// 0 ok, 1 only when `verify` misses a threshold or `check` finds a changed file,
    /// 2 any error, 64 bad usage.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as any CkptError {
            Terminal.error(error.description)
            Glibc.exit(2)
        } catch {
            exit(withError: error)
        }
    }
}

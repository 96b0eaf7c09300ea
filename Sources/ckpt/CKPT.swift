import ArgumentParser
import Catalog
import Formats

@main struct CKPT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Convert, quantize, verify and catalogue model checkpoints.",
        subcommands: [
            List.self, Show.self, Add.self, Scan.self, Rm.self, LineageCommand.self, Check.self,
            Dupes.self,
        ])

    /// 0 ok, 1 only when `verify` misses a threshold or `check` finds a damaged file,
    /// 2 any error, 64 bad usage.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as any CkptError {
            // Thrown errors would otherwise exit 1.
            Terminal.error(error.description)
            exit(withError: ExitCode(2))
        } catch {
            exit(withError: error)
        }
    }
}

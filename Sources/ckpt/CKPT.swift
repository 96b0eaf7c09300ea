import ArgumentParser

@main struct CKPT: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ckpt", abstract: "Convert, quantize, verify and catalogue model checkpoints.")
}

import ArgumentParser
import Foundation
import Formats
import Verify

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize text with a model's tokenizer (tokenizer.json or a GGUF's vocabulary).",
        discussion: "Special tokens (BOS/EOS, [CLS]/[SEP]) are added only with --add-special-tokens.")

    @Argument(help: "A model directory, a tokenizer.json, or a GGUF file.")
    var model: String

    @Option(help: "The text to tokenize.")
    var text: String?

    @Option(help: "A UTF-8 file whose whole content is tokenized.")
    var textFile: String?

    @Flag(help: "Add the special tokens the tokenizer's post-processor declares.")
    var addSpecialTokens = false

    @Flag(help: "Print {\"ids\": [...]} on stdout.")
    var json = false

    func validate() throws {
        guard (text == nil) != (textFile == nil) else {
            throw ValidationError("give exactly one of --text and --text-file")
        }
    }

    func run() throws {
        let input: String
        if let text {
            input = text
        } else if let textFile {
            let bytes = try ByteBuffer(mapping: textFile)
            guard let s = String(validating: bytes.all.raw, as: UTF8.self) else {
                throw FormatError(.invalid("not UTF-8 text"), file: textFile)
            }
            input = s
        } else {
            input = ""
        }
        let tokenizer = try Tokenizers.load(model: model)
        let ids = tokenizer.encode(input, addSpecialTokens: addSpecialTokens)
        if json {
            print(MetadataValue.object(["ids": .array(ids.map { .int64(Int64($0)) })]).jsonString())
        } else {
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}

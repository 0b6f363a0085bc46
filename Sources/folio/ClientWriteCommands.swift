import ArgumentParser
import EmbeddedPostgres
import FolioClient
import FolioCore
import Foundation

/// `folio login --server URL --token T [--device NAME]`.
struct ClientLoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Store where and as whom to sync.")

    @OptionGroup var options: ClientOptions
    @Option(help: "Server URL, e.g. http://127.0.0.1:8080.") var server: String
    @Option(help: "Access token (folio tokens create).") var token: String
    @Option(help: "This machine's name in event metadata (default: the host name).") var device: String?

    func run() async throws {
        try await withWorkspace(options) { workspace in
            try workspace.login(server: server, token: token, device: device)
            let settings = try workspace.replica.settings()
            if options.json {
                struct Output: Encodable { var server: String; var device: String }
                printJSON(Output(server: settings.server ?? server, device: settings.device))
            } else {
                say("logged in to \(settings.server ?? server) as device \(settings.device)")
            }
        }
    }
}

/// `folio import FILE [--slug S] [--language L]`.
struct ClientImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "New article from a text file (first line is the title).")

    @OptionGroup var options: ClientOptions
    @Argument(help: "A UTF-8 text file.") var file: String
    @Option(help: "Slug (default: from the file name).") var slug: String?
    @Option(help: "Language tag (default: hi for Devanagari text, else en).") var language: String?

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let imported = try workspace.importArticle(file: URL(fileURLWithPath: file), slug: slug, language: language)
            if options.json {
                printJSON(imported)
            } else {
                say("imported \(imported.slug) (\(imported.articleId)), revision \(imported.revision), pending sync")
            }
        }
    }
}

/// `folio edit A` ($EDITOR), `--replace OLD --with NEW [--all | --occurrence N]`, `--file F`.
struct ClientEditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit", abstract: "Edit an article's text ($EDITOR, --replace, or --file).")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Article id, unique id prefix, or slug.") var article: String
    @Option(help: "Text to replace.") var replace: String?
    @Option(name: .customLong("with"), help: "Replacement (\"\" deletes).") var with: String?
    @Flag(help: "Replace every occurrence.") var all = false
    @Option(help: "Replace only the Nth occurrence (1-based).") var occurrence: Int?
    @Option(help: "Take the new text from this file (the text only, no title).") var file: String?
    @Option(help: "A summary of the change.") var summary: String?

    func validate() throws {
        if (replace == nil) != (with == nil) { throw ValidationError("--replace and --with go together") }
        if replace != nil && file != nil { throw ValidationError("give --replace or --file, not both") }
        if all && occurrence != nil { throw ValidationError("give --all or --occurrence, not both") }
        if (all || occurrence != nil) && replace == nil { throw ValidationError("--all and --occurrence go with --replace") }
    }

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let articleId = try workspace.resolve(article)
            let result: Workspace.Edited
            if let replace, let with {
                result = try workspace.replace(articleId, old: replace, with: with, all: all, occurrence: occurrence)
            } else if let file {
                let text: String
                do {
                    text = try String(contentsOf: URL(fileURLWithPath: file), encoding: .utf8)
                } catch {
                    throw ClientError.badInput("cannot read \(file): \(error.localizedDescription)")
                }
                result = try workspace.edit(articleId, newText: text, summary: summary)
            } else {
                let current = try workspace.view(articleId).current.text
                result = try workspace.edit(articleId, newText: try Self.runEditor(current), summary: summary)
            }
            if options.json {
                printJSON(result)
            } else if result.changed {
                say("edited \(article): revision \(result.revision), pending sync")
            } else {
                say("no change")
            }
        }
    }

    /// Writes `text` to a temporary file, opens `$VISUAL`/`$EDITOR` on it, and reads it back.
    static func runEditor(_ text: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let editor = environment["VISUAL"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["EDITOR"].flatMap { $0.isEmpty ? nil : $0 } ?? "vi"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("folio-edit-\(UUID().uuidString.prefix(8)).txt")
        do {
            try text.write(to: file, atomically: true, encoding: .utf8)
        } catch {
            throw ClientError.storage("cannot write \(file.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: file) }
        // posix_spawn and waitpid, with the terminal as stdin/stdout/stderr: Foundation's
        // Process was seen to report an exit before the editor had written the file.
        let status: Int32
        do {
            let pid = try Subprocess.spawn(
                "/bin/sh", ["-c", "\(editor) \"$1\"", "folio-editor", file.path], environment: environment,
                stdout: 1, stderr: 2, stdin: 0)
            status = try Subprocess.waitForExit(pid)
        } catch {
            throw ClientError.usage("cannot start the editor \(editor): \(error)")
        }
        guard status == 0 else {
            throw ClientError.badInput("the editor \(editor) exited with \(status); nothing changed")
        }
        guard var edited = try? String(contentsOf: file, encoding: .utf8) else {
            throw ClientError.badInput("the edited file is not UTF-8 text")
        }
        // Editors add a final newline; keep the text's own ending.
        if !text.hasSuffix("\n"), edited.hasSuffix("\n") { edited.removeLast() }
        return edited
    }
}

/// `folio annotate A --quote TEXT [--occurrence N] [--prefix P --suffix S] --note TEXT [--tag T]...`.
struct ClientAnnotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "annotate", abstract: "Annotate a passage of an article.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Article id, unique id prefix, or slug.") var article: String
    @Option(help: "The exact passage.") var quote: String
    @Option(help: "Which occurrence of the quote (1-based).") var occurrence: Int?
    @Option(help: "Text right before the quote, to pick one occurrence.") var prefix: String?
    @Option(help: "Text right after the quote, to pick one occurrence.") var suffix: String?
    @Option(help: "The note.") var note: String
    @Option(name: .customLong("tag"), help: "A tag (repeatable).") var tags: [String] = []
    @Option(help: "W3C motivation (default: commenting).") var motivation = "commenting"

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let articleId = try workspace.resolve(article)
            let result = try workspace.annotate(
                articleId, quote: quote, occurrence: occurrence, prefix: prefix, suffix: suffix, note: note, tags: tags, motivation: motivation)
            if options.json {
                printJSON(result)
            } else {
                say("annotated [\(result.start), \(result.end)) \"\(result.exact)\": \(result.annotationId), pending sync")
            }
        }
    }
}

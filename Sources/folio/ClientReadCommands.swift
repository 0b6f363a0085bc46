import ArgumentParser
import FolioClient
import FolioCore
import Foundation

/// `folio list`: the articles of the replica.
struct ClientListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the articles of the local replica.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let articles = try workspace.articles()
            if options.json {
                struct Output: Encodable { var articles: [ArticleSummary] }
                printJSON(Output(articles: articles))
                return
            }
            for article in articles {
                let pending = article.pending > 0 ? "  (\(article.pending) pending)" : ""
                say("\(article.id.prefix(8))  \(article.slug)  r\(article.revision)  \(article.title)\(article.archived ? "  [archived]" : "")\(pending)")
            }
        }
    }
}

/// `folio show A [--revision N | --at TIME] [--annotations]`.
struct ClientShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an article, with its annotations marked.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Article id, unique id prefix, or slug.") var article: String
    @Option(help: "Show this revision.") var revision: Int?
    @Option(help: "Show the revision at this RFC 3339 time.") var at: String?
    @Flag(help: "List the annotations under the text.") var annotations = false

    func run() async throws {
        if revision != nil && at != nil {
            FileHandle.standardError.write(Data("folio: error: give --revision or --at, not both\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        let time = try at.map(parseTime)
        try await withWorkspace(options) { workspace in
            let view = try workspace.view(try workspace.resolve(article))
            let state = try workspace.state(view, revision: revision, at: time)
            let isLatest = state.revision == view.current.revision
            let marks = isLatest ? view.annotations : []
            if options.json {
                struct Output: Encodable {
                    var id, slug, title, language, text, updatedAt: String
                    var revision: Int
                    var archived: Bool
                    var pending: Bool
                    var annotations: [AnnotationJSON]?
                }
                printJSON(Output(
                    id: view.id, slug: state.slug, title: state.title, language: state.language, text: state.text,
                    updatedAt: RFC3339.string(from: state.updatedAt), revision: state.revision, archived: state.archived,
                    pending: state.revision > view.pulledRevision, annotations: annotations ? marks.map(AnnotationJSON.init) : nil))
                return
            }
            let pending = state.revision > view.pulledRevision ? " (pending sync)" : ""
            say("\(state.title)  [\(state.slug), revision \(state.revision)\(pending)]")
            say("")
            say(TextMarker.mark(state.content, marks, colour: stdoutIsTerminal))
            if annotations {
                say("")
                for (index, mark) in marks.enumerated() {
                    let tags = mark.tags.isEmpty ? "" : "  #" + mark.tags.joined(separator: " #")
                    say("[\(index + 1)] \"\(mark.target.exact)\" — \(mark.body)\(tags)  (\(mark.anchor.status.rawValue)\(mark.pending ? ", pending" : ""))")
                }
            }
        }
    }
}

/// Marks annotated ranges in a text: `[[…]]` with the annotation's number, or colour on a terminal.
enum TextMarker {
    static func mark(_ text: ScalarText, _ annotations: [AnnotationView], colour: Bool) -> String {
        var opens: [Int: [Int]] = [:]
        var closes: [Int: [Int]] = [:]
        for (index, annotation) in annotations.enumerated() where annotation.anchor.status != .orphaned && annotation.anchor.end > annotation.anchor.start {
            opens[annotation.anchor.start, default: []].append(index + 1)
            closes[annotation.anchor.end, default: []].append(index + 1)
        }
        var output = String.UnicodeScalarView()
        var depth = 0
        for position in 0...text.count {
            for number in closes[position] ?? [] {
                depth -= 1
                output.append(contentsOf: (colour ? (depth == 0 ? "\u{1B}[0m" : "") + "\u{1B}[2m[\(number)]\u{1B}[0m" + (depth > 0 ? "\u{1B}[4;33m" : "") : "]]\(number)").unicodeScalars)
            }
            for _ in opens[position] ?? [] {
                output.append(contentsOf: (colour ? "\u{1B}[4;33m" : "[[").unicodeScalars)
                depth += 1
            }
            if position < text.count { output.append(text.scalars[position]) }
        }
        return String(output)
    }
}

/// `folio annotations A [--status S]`.
struct ClientAnnotationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "annotations", abstract: "List the annotations of an article.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Article id, unique id prefix, or slug.") var article: String
    @Option(help: "Only anchored, fuzzy or orphaned ones.") var status: String?

    func run() async throws {
        if let status, Anchor.Status(rawValue: status) == nil {
            FileHandle.standardError.write(Data("folio: error: --status is one of anchored, fuzzy, orphaned\n".utf8))
            throw ExitCode(ExitStatus.usage)
        }
        try await withWorkspace(options) { workspace in
            let view = try workspace.view(try workspace.resolve(article))
            let list = view.annotations.filter { status == nil || $0.anchor.status.rawValue == status }
            if options.json {
                printJSON(list.map(AnnotationJSON.init))
                return
            }
            for annotation in list {
                let tags = annotation.tags.isEmpty ? "" : "  #" + annotation.tags.joined(separator: " #")
                say("\(annotation.id.prefix(8))  \(annotation.anchor.status.rawValue)  [\(annotation.anchor.start), \(annotation.anchor.end))  \"\(annotation.target.exact)\"  \(annotation.body)\(tags)\(annotation.pending ? "  (pending)" : "")")
            }
        }
    }
}

/// `folio log A`.
struct ClientLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "The revisions of an article.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Article id, unique id prefix, or slug.") var article: String

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let view = try workspace.view(try workspace.resolve(article))
            if options.json {
                struct Entry: Encodable {
                    var revision: Int
                    var type: String
                    var author: String?
                    var recordedAt: String
                    var summary: String?
                    var eventId: String
                    var pending: Bool
                    func encode(to encoder: any Encoder) throws {
                        var container = encoder.container(keyedBy: CodingKeys.self)
                        try container.encode(revision, forKey: .revision)
                        try container.encode(type, forKey: .type)
                        try container.encode(author, forKey: .author)
                        try container.encode(recordedAt, forKey: .recordedAt)
                        try container.encode(summary, forKey: .summary)
                        try container.encode(eventId, forKey: .eventId)
                        try container.encode(pending, forKey: .pending)
                    }
                    enum CodingKeys: String, CodingKey { case revision, type, author, recordedAt, summary, eventId, pending }
                }
                printJSON(view.revisions.map {
                    Entry(revision: $0.revision, type: $0.type, author: $0.author, recordedAt: $0.recordedAt, summary: $0.summary, eventId: $0.eventId, pending: $0.pending)
                })
                return
            }
            for info in view.revisions.reversed() {
                let who = info.pending ? "(pending)" : (info.author ?? "?")
                say("r\(info.revision)  \(info.recordedAt)  \(who)  \(info.type)\(info.summary.map { "  \($0)" } ?? "")")
            }
        }
    }
}

/// `folio diff A --from N --to M`.
struct ClientDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "What changed between two revisions.")

    @OptionGroup var options: ClientOptions
    @Argument(help: "Article id, unique id prefix, or slug.") var article: String
    @Option(help: "The older revision.") var from: Int
    @Option(help: "The newer revision (default: the latest).") var to: Int?

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let view = try workspace.view(try workspace.resolve(article))
            let old = try workspace.state(view, revision: from, at: nil)
            let new = try workspace.state(view, revision: to ?? view.current.revision, at: nil)
            let edit = TextDiff.diff(old.content, new.content)
            if options.json {
                struct Output: Encodable {
                    var from: Int
                    var to: Int
                    var ops: TextEdit
                    var titleFrom: String
                    var titleTo: String
                }
                printJSON(Output(from: old.revision, to: new.revision, ops: edit, titleFrom: old.title, titleTo: new.title))
                return
            }
            if old.title != new.title { say("title: \(old.title) → \(new.title)") }
            say(DiffRenderer.render(old.content, edit, colour: stdoutIsTerminal))
        }
    }
}

/// Shows an edit inline: `[-deleted-]{+inserted+}`, or red and green on a terminal.
enum DiffRenderer {
    static func render(_ text: ScalarText, _ edit: TextEdit, colour: Bool) -> String {
        var output = ""
        var position = 0
        for operation in edit.operations {
            switch operation {
            case .retain(let count):
                output += text.slice(position, position + count)
                position += count
            case .delete(let count):
                let removed = text.slice(position, position + count)
                output += colour ? "\u{1B}[31;9m\(removed)\u{1B}[0m" : "[-\(removed)-]"
                position += count
            case .insert(let inserted):
                output += colour ? "\u{1B}[32m\(inserted)\u{1B}[0m" : "{+\(inserted)+}"
            }
        }
        return output
    }
}

/// `folio status`.
struct ClientStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Pending events, conflicts, last sync.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await withWorkspace(options) { workspace in
            let status = try workspace.status()
            if options.json {
                printJSON(status)
                return
            }
            say("server: \(status.server ?? "(none; run folio login)")")
            say("last sync: \(status.lastSync ?? "never")")
            say("pending: \(status.pending)")
            for rejected in status.rejected {
                say("rejected: \(rejected.type) \(rejected.eventId) (article \(rejected.articleId.prefix(8))): \(rejected.error)")
            }
            for conflict in status.conflicts {
                say("conflict: edit \(conflict.eventId) of article \(conflict.articleId.prefix(8)) based on revision \(conflict.baseRevision) conflicts with \(conflict.conflictsWith.map(String.init).joined(separator: ", "))")
            }
        }
    }
}

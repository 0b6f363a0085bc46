import ArgumentParser
import FolioClient
import FolioCore
import Foundation

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .customLong("home"), help: "Client data folder (default: FOLIO_HOME or ~/.local/share/folio).")
    var home: String?

    @Flag(name: .customLong("json"), help: "Print one JSON document on stdout.")
    var json = false
}

/// Opens the workspace of `options` and runs `body`, mapping client errors to exit codes.
func withWorkspace<T>(_ options: ClientOptions, _ body: (Workspace) async throws -> T) async throws -> T {
    do {
        let workspace = try Workspace(home: try ClientHome.resolve(options.home))
        return try await body(workspace)
    } catch let error as ClientError {
        throw clientFailure(error)
    }
}

/// Prints a client error and returns its exit code.
func clientFailure(_ error: ClientError) -> ExitCode {
    FileHandle.standardError.write(Data("folio: error: \(error)\n".utf8))
    return ExitCode(error.exitCode)
}

/// Whether stdout is a terminal (colour and progress only there).
var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

/// Parses an RFC 3339 time flag.
func parseTime(_ text: String) throws -> Date {
    guard let date = RFC3339.date(from: text) else {
        FileHandle.standardError.write(Data("folio: error: --at wants an RFC 3339 time such as 2026-01-10T08:00:00Z\n".utf8))
        throw ExitCode(ExitStatus.usage)
    }
    return date
}

/// JSON of an annotation, in the shape of `GET /v1/articles/{id}/annotations`.
struct AnnotationJSON: Encodable {
    struct AnchorJSON: Encodable {
        var start: Int
        var end: Int
        var status: String
        var revision: Int
    }
    var id: String
    var articleId: String
    var body: String
    var tags: [String]
    var motivation: String
    var author: String?
    var target: AnnotationTarget
    var revision: Int
    var anchor: AnchorJSON
    var pending: Bool

    init(_ view: AnnotationView) {
        id = view.id
        articleId = view.articleId
        body = view.body
        tags = view.tags
        motivation = view.motivation
        author = view.author
        target = view.target
        revision = view.revision
        anchor = AnchorJSON(start: view.anchor.start, end: view.anchor.end, status: view.anchor.status.rawValue, revision: view.anchor.revision)
        pending = view.pending
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(articleId, forKey: .articleId)
        try container.encode(body, forKey: .body)
        try container.encode(tags, forKey: .tags)
        try container.encode(motivation, forKey: .motivation)
        try container.encode(author, forKey: .author)
        try container.encode(target, forKey: .target)
        try container.encode(revision, forKey: .revision)
        try container.encode(anchor, forKey: .anchor)
        try container.encode(pending, forKey: .pending)
    }

    enum CodingKeys: String, CodingKey {
        case id, articleId, body, tags, motivation, author, target, revision, anchor, pending
    }
}

import FolioCore
import Foundation

/// The client commands of SPEC §6 over one home's replica. Every write is queued in the
/// outbox and committed before the method returns.
public final class Workspace: Sendable {
    public let replica: Replica
    public let home: URL

    /// Opens the replica of `home`.
    public init(home: URL) throws(ClientError) {
        self.home = home
        replica = try Replica(home: home)
    }

    // MARK: login

    /// Stores the server, token and device name.
    public func login(server: String, token: String, device: String?) throws(ClientError) {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        guard let url = URL(string: server), url.scheme == "http", url.host != nil else {
            throw .usage("--server must be an http:// URL, e.g. http://127.0.0.1:8080")
        }
        guard !token.isEmpty else { throw .usage("--token must not be empty") }
        try replica.setSetting("server", server)
        try replica.setSetting("token", token)
        if let device, !device.isEmpty { try replica.setSetting("device", device) }
    }

    // MARK: reading

    /// Every article: the pulled ones, with pending events on top, and the ones created locally.
    public func articles() throws(ClientError) -> [ArticleSummary] {
        var summaries = Dictionary(uniqueKeysWithValues: try replica.pulledArticles().map { ($0.id, $0) })
        let outbox = try replica.outbox(states: [.pending, .pushed])
        for articleId in Set(outbox.map(\.articleId)) {
            guard let view = try ArticleFolder.fold(articleId: articleId, replica: replica) else { continue }
            let state = view.current
            summaries[articleId] = ArticleSummary(
                id: articleId, slug: state.slug, title: state.title, language: state.language, revision: state.revision,
                archived: state.archived, updatedAt: RFC3339.string(from: state.updatedAt),
                pending: outbox.filter { $0.articleId == articleId && $0.state == .pending }.count)
        }
        return summaries.values.sorted { ($0.slug, $0.id) < ($1.slug, $1.id) }
    }

    /// The article named by id, unique id prefix, or slug.
    public func resolve(_ name: String) throws(ClientError) -> String {
        let all = try articles()
        let key = name.lowercased()
        if let exact = all.first(where: { $0.id == key }) { return exact.id }
        let bySlug = all.filter { $0.slug == key }
        if bySlug.count == 1 { return bySlug[0].id }
        let byPrefix = all.filter { $0.id.hasPrefix(key) }
        if bySlug.count > 1 || byPrefix.count > 1 {
            throw .ambiguousArticle(name: name, candidates: (bySlug + byPrefix).map { "\($0.id) (\($0.slug))" })
        }
        if let only = byPrefix.first, !key.isEmpty { return only.id }
        throw .noSuchArticle(name)
    }

    /// The article as the replica shows it.
    public func view(_ articleId: String) throws(ClientError) -> ArticleView {
        guard let view = try ArticleFolder.fold(articleId: articleId, replica: replica) else { throw .noSuchArticle(articleId) }
        return view
    }

    /// The state at a revision, or at a time (`nil` revision and time: the latest).
    public func state(_ view: ArticleView, revision: Int?, at time: Date?) throws(ClientError) -> ArticleState {
        if let revision {
            do {
                return try view.history.state(at: revision)
            } catch {
                throw .badInput("article \(view.current.slug) has revisions 1…\(view.current.revision), not \(revision)")
            }
        }
        if let time {
            guard let revision = view.history.revision(at: time) else {
                throw .badInput("article \(view.current.slug) did not exist at \(RFC3339.string(from: time))")
            }
            return try state(view, revision: revision, at: nil)
        }
        return view.current
    }

    /// `status`.
    public func status() throws(ClientError) -> StatusReport {
        let settings = try replica.settings()
        let outbox = try replica.outbox()
        return StatusReport(
            pending: outbox.filter { $0.state == .pending }.count,
            rejected: outbox.filter { $0.state == .rejected }.map {
                StatusReport.Rejected(eventId: $0.eventId, type: $0.type, articleId: $0.articleId, error: $0.error ?? "refused")
            },
            conflicts: try replica.conflicts(), lastSync: settings.lastSync, server: settings.server)
    }

    // MARK: writing

    private func entry(_ event: FolioEvent, correlationId: String, base: (eventId: String, text: String)? = nil, annotationId: UUID? = nil) throws(ClientError) -> OutboxEntry {
        let data: String
        do {
            data = try event.jsonText()
            _ = try FolioEvent.decode(type: event.type, schemaVersion: event.schemaVersion, json: data)
        } catch {
            throw .badInput("invalid \(event.type): \(error)")
        }
        return OutboxEntry(
            seq: 0, eventId: UUID().uuidString.lowercased(), type: event.type, data: data,
            articleId: event.articleId?.uuidString.lowercased() ?? "", annotationId: annotationId?.uuidString.lowercased(),
            baseEventId: base?.eventId, baseText: base?.text, correlationId: correlationId, createdAt: RFC3339.string(from: Date()),
            state: .pending, serverRevision: nil, error: nil)
    }

    /// What `import` made.
    public struct Imported: Sendable, Codable {
        public var articleId: String
        public var slug: String
        public var revision: Int
    }

    /// `import FILE`: a new article, queued.
    public func importArticle(file: URL, slug: String?, language: String?) throws(ClientError) -> Imported {
        let contents: String
        do {
            contents = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw .badInput("cannot read \(file.path) as UTF-8 text: \(error.localizedDescription)")
        }
        let (title, text) = try ImportFile.split(contents)
        let taken = Set(try articles().map(\.slug))
        let chosen: String
        if let slug {
            guard !taken.contains(slug) else { throw .badInput("the slug \"\(slug)\" is taken") }
            chosen = slug
        } else {
            chosen = ImportFile.unique(ImportFile.slug(fromFileName: file.lastPathComponent), taken: taken)
        }
        let articleId = UUID()
        let created = ArticleCreated(
            articleId: articleId, slug: chosen, title: title, language: language ?? ImportFile.guessLanguage(text), text: text)
        let queued = try entry(.articleCreated(created), correlationId: UUID().uuidString.lowercased())
        try replica.enqueue([queued])
        return Imported(articleId: articleId.uuidString.lowercased(), slug: chosen, revision: 1)
    }

    /// What `edit` queued.
    public struct Edited: Sendable, Codable {
        public var articleId: String
        /// The revision the replica shows after the edit (provisional until synced).
        public var revision: Int
        public var ops: TextEdit?
        public var changed: Bool
        public var eventId: String?
    }

    /// Replaces the text of an article with `newText` (as `diff` computes the edit).
    public func edit(_ articleId: String, newText: String, summary: String? = nil) throws(ClientError) -> Edited {
        let view = try view(articleId)
        let old = view.current.content
        let new = ScalarText(newText)
        guard old != new else {
            return Edited(articleId: articleId, revision: view.current.revision, ops: nil, changed: false, eventId: nil)
        }
        let ops = TextDiff.diff(old, new)
        let edited = ArticleEdited(articleId: view.current.id, baseRevision: view.current.revision, ops: ops, summary: summary)
        do {
            _ = try ops.apply(to: old)
        } catch {
            throw .badInput("the edit does not apply: \(error)")
        }
        let base = view.dependency.map { (eventId: $0, text: old.string) }
        let queued = try entry(.articleEdited(edited), correlationId: UUID().uuidString.lowercased(), base: base)
        try replica.enqueue([queued])
        return Edited(articleId: articleId, revision: view.current.revision + 1, ops: ops, changed: true, eventId: queued.eventId)
    }

    /// `edit --replace OLD --with NEW [--all | --occurrence N]`.
    public func replace(_ articleId: String, old: String, with new: String, all: Bool, occurrence: Int?) throws(ClientError) -> Edited {
        let view = try view(articleId)
        let text = view.current.content
        let needle = Array(old.nfc.unicodeScalars)
        guard !needle.isEmpty else { throw .badInput("--replace needs a non-empty text") }
        var matches: [Int] = []
        var index = 0
        let scalars = text.scalars
        while index + needle.count <= scalars.count {
            if scalars[index] == needle[0], scalars[index..<(index + needle.count)].elementsEqual(needle),
               text.isBoundary(index), text.isBoundary(index + needle.count) {
                matches.append(index)
                index += needle.count
            } else {
                index += 1
            }
        }
        guard !matches.isEmpty else { throw .badInput("\"\(old)\" is not in the text of \(view.current.slug)") }
        if let occurrence {
            guard occurrence >= 1, occurrence <= matches.count else {
                throw .badInput("--occurrence \(occurrence): \"\(old)\" occurs \(matches.count) time(s)")
            }
            matches = [matches[occurrence - 1]]
        } else if !all, matches.count > 1 {
            throw .badInput("\"\(old)\" occurs \(matches.count) times; pass --all or --occurrence N")
        }
        var result = String.UnicodeScalarView()
        var cursor = 0
        for start in matches {
            result.append(contentsOf: scalars[cursor..<start])
            result.append(contentsOf: new.nfc.unicodeScalars)
            cursor = start + needle.count
        }
        result.append(contentsOf: scalars[cursor...])
        return try edit(articleId, newText: String(result))
    }

    /// What `annotate` queued.
    public struct Annotated: Sendable, Codable {
        public var annotationId: String
        public var start: Int
        public var end: Int
        public var exact: String
    }

    /// `annotate A --quote TEXT …`.
    public func annotate(
        _ articleId: String, quote: String, occurrence: Int?, prefix: String?, suffix: String?, note: String, tags: [String],
        motivation: String = "commenting"
    ) throws(ClientError) -> Annotated {
        let view = try view(articleId)
        let target: AnnotationTarget
        do {
            target = try AnnotationTarget.create(in: view.current.content, quote: quote, occurrence: occurrence, prefix: prefix, suffix: suffix)
        } catch {
            throw .badInput("\(error)")
        }
        let annotationId = UUID()
        let added = AnnotationAdded(
            annotationId: annotationId, articleId: view.current.id, revision: view.current.revision, target: target, body: note, tags: tags,
            motivation: motivation)
        let base = view.dependency.map { (eventId: $0, text: view.current.text) }
        let queued = try entry(.annotationAdded(added), correlationId: UUID().uuidString.lowercased(), base: base, annotationId: annotationId)
        try replica.enqueue([queued])
        return Annotated(annotationId: annotationId.uuidString.lowercased(), start: target.start, end: target.end, exact: target.exact)
    }
}

import FolioCore
import FolioStore
import Foundation

/// The rows one batch of events changes in one generation, written with the checkpoint in
/// one transaction (``ProjectionWriter``).
struct BatchChanges: Sendable {
    var generation: Int64
    var events = 0
    var cursor = StoreCursor.start
    var lastRecordedAt: Date?
    var articles: [ArticleRow] = []
    var revisions: [RevisionRow] = []
    var snapshots: [SnapshotRow] = []
    var annotations: [ProjectionEngine.AnnotationEntry] = []
    var deletedAnnotations = Set<UUID>()

    init(generation: Int64) {
        self.generation = generation
    }
}

/// A row of `proj_articles`.
struct ArticleRow: Sendable {
    var id: UUID
    var slug: String
    var title: String
    var language: String
    var text: String
    var revision: Int
    var lastEditRevision: Int
    var createdAt: Date
    var updatedAt: Date
    var archived: Bool
    var authors: [String]
    var source: String?

    init(_ entry: ProjectionEngine.ArticleEntry) {
        let state = entry.history.current
        id = state.id
        slug = state.slug
        title = state.title
        language = state.language
        text = state.text
        revision = state.revision
        lastEditRevision = entry.lastEditRevision
        createdAt = entry.createdAt
        updatedAt = state.updatedAt
        archived = state.archived
        authors = entry.authors
        source = state.source.flatMap(JSONText.encode)
    }
}

/// A row of `proj_article_revisions`.
struct RevisionRow: Sendable {
    var articleId: UUID
    var revision: Int
    var type: String
    var author: String?
    var recordedAt: Date
    var summary: String
    var inserted: Int
    var deleted: Int
    var data: String
    var appliedOps: String?

    init(articleId: UUID, revision: Int, item: DecodedEvent, summary: String, applied: TextEdit?, text: Int) {
        self.articleId = articleId
        self.revision = revision
        type = item.type
        author = item.author
        recordedAt = item.recordedAt
        self.summary = summary
        if case .articleCreated = item.event {
            inserted = text
            deleted = 0
        } else {
            let size = applied.map(ChangeSize.init) ?? ChangeSize(inserted: 0, deleted: 0)
            inserted = size.inserted
            deleted = size.deleted
        }
        data = item.data
        appliedOps = applied?.jsonText
    }
}

/// A row of `proj_article_snapshots`.
struct SnapshotRow: Sendable {
    var state: ArticleState
    init(_ state: ArticleState) { self.state = state }
}

/// Stable JSON text of small values.
enum JSONText {
    /// A JSON array of strings (authors, tags), written by hand: one per article and
    /// annotation row, where `JSONEncoder` cost more than the rest of the row. The text is
    /// parsed as `jsonb`, so only its value matters.
    static func stringArray(_ strings: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(2 + strings.reduce(0) { $0 + $1.utf8.count + 3 })
        for (index, string) in strings.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            appendString(string, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An annotation's target as a JSON object (the keys of its `Codable` form, sorted),
    /// written by hand like ``stringArray(_:)``.
    static func target(_ target: AnnotationTarget) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + target.exact.utf8.count + target.prefix.utf8.count + target.suffix.utf8.count)
        bytes.append(contentsOf: #"{"end":"#.utf8)
        bytes.append(contentsOf: String(target.end).utf8)
        bytes.append(contentsOf: #","exact":"#.utf8)
        appendString(target.exact, to: &bytes)
        bytes.append(contentsOf: #","prefix":"#.utf8)
        appendString(target.prefix, to: &bytes)
        bytes.append(contentsOf: #","start":"#.utf8)
        bytes.append(contentsOf: String(target.start).utf8)
        bytes.append(contentsOf: #","suffix":"#.utf8)
        appendString(target.suffix, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `string` as a JSON string: only `"`, `\` and control characters are escaped.
    private static func appendString(_ string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                let digits: StaticString = "0123456789abcdef"
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(digits.utf8Start[Int(byte >> 4)])
                bytes.append(digits.utf8Start[Int(byte & 0x0F)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    static func encode(_ value: some Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

import FolioCore
import Foundation

/// One event of the pulled log, as the server sent it (SPEC §5 sync line `event`).
public struct StoredEvent: Sendable, Hashable {
    public var position: Int64
    public var cursor: String
    public var id: String
    public var stream: String
    public var revision: Int
    public var type: String
    public var schemaVersion: Int
    /// The data object as JSON text.
    public var data: String
    /// The metadata object as JSON text.
    public var meta: String
    /// RFC 3339.
    public var recordedAt: String
    /// The article it belongs to (lower-case UUID; empty when unknown).
    public var articleId: String

    public init(
        position: Int64, cursor: String, id: String, stream: String, revision: Int, type: String, schemaVersion: Int,
        data: String, meta: String, recordedAt: String, articleId: String
    ) {
        self.position = position
        self.cursor = cursor
        self.id = id
        self.stream = stream
        self.revision = revision
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
        self.meta = meta
        self.recordedAt = recordedAt
        self.articleId = articleId
    }

    /// The decoded, validated event.
    public func decoded() throws(EventValidationError) -> FolioEvent {
        try FolioEvent.decode(type: type, schemaVersion: schemaVersion, json: data)
    }

    /// The recorded time as a date.
    public var recordedDate: Date { RFC3339.date(from: recordedAt) ?? Date(timeIntervalSince1970: 0) }

    /// `meta.author`, when the server set one.
    public var author: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(meta.utf8)) as? [String: Any] else { return nil }
        return object["author"] as? String
    }
}

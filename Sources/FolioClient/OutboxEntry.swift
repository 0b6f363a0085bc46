import FolioCore
import Foundation

/// One local event waiting in the outbox (or refused by the server and kept).
public struct OutboxEntry: Sendable, Hashable {
    /// Where the entry stands.
    public enum State: String, Sendable, Hashable {
        /// Not yet acknowledged by the server.
        case pending
        /// Stored by the server (appended, duplicate or transformed) but not pulled back yet.
        case pushed
        /// The server recorded an `EditConflicted` instead; kept until that is pulled.
        case conflicted
        /// Refused (role, invalid): kept and listed, never retried.
        case rejected
    }

    public var seq: Int64
    /// Chosen when the command ran, so a retry re-sends the same id (G3).
    public var eventId: String
    public var type: String
    /// The data object as JSON text, exactly what is (or will be) sent.
    public var data: String
    public var articleId: String
    public var annotationId: String?
    /// Set while the event was made on top of another pending event of this replica: that
    /// event's id. The data's revision is provisional until it is resolved (SPEC §9).
    public var baseEventId: String?
    /// The text the event was made against, while `baseEventId` is set.
    public var baseText: String?
    public var correlationId: String
    /// RFC 3339.
    public var createdAt: String
    public var state: State
    public var serverRevision: Int?
    public var error: String?

    /// The decoded event.
    public func decoded() throws(EventValidationError) -> FolioEvent {
        try FolioEvent.decode(type: type, schemaVersion: FolioEvent.currentSchemaVersion, json: data)
    }
}

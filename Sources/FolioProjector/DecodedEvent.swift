import FolioCore
import FolioStore
import Foundation
import Logging

/// An event of the log decoded for folding: the domain event, its author and place in the log.
struct DecodedEvent: Sendable {
    var event: FolioEvent
    var id: UUID
    var type: String
    /// The stream revision.
    var revision: Int64
    var position: Int64
    var cursor: StoreCursor
    var recordedAt: Date
    /// `metadata.author`.
    var author: String?
    /// The event's data as the log holds it (JSON): what the revision row stores, so the
    /// fold need not encode the event again.
    var data: String

    private struct Metadata: Decodable {
        var author: String?
    }

    /// Decodes a recorded event; nil (logged) for one the core refuses, which the projector skips.
    static func decode(_ recorded: RecordedEvent, logger: Logger) -> DecodedEvent? {
        let event: FolioEvent
        do {
            event = try FolioEvent.decode(type: recorded.type, schemaVersion: recorded.schemaVersion, json: recorded.data)
        } catch {
            logger.error("projector: an event that does not decode was skipped", metadata: [
                "position": "\(recorded.position)", "type": "\(recorded.type)", "error": "\(error)",
            ])
            return nil
        }
        let author = FastEventDecoder.metadataAuthor(recorded.metadata) ?? (try? JSONDecoder().decode(Metadata.self, from: Data(recorded.metadata.utf8)).author)
        return DecodedEvent(
            event: event, id: recorded.id, type: recorded.type, revision: recorded.revision, position: recorded.position,
            cursor: recorded.cursor, recordedAt: recorded.recordedAt, author: author ?? nil, data: recorded.data)
    }
}

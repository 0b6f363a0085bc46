import Foundation

/// An event to append. The caller (the server) has validated it; `data` and `metadata` are
/// JSON object text.
public struct NewEvent: Sendable, Hashable {
    public var id: UUID
    public var stream: String
    public var type: String
    public var schemaVersion: Int
    public var data: String
    public var metadata: String
    /// The article the event belongs to (annotation events included), for filtered reads.
    public var articleID: UUID?
    /// The revision the stream must have just before this event (0: must not exist yet).
    public var expectedRevision: Int64?

    public init(
        id: UUID = UUID(), stream: String, type: String, schemaVersion: Int = 1, data: String, metadata: String = "{}",
        articleID: UUID? = nil, expectedRevision: Int64? = nil
    ) {
        self.id = id
        self.stream = stream
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
        self.metadata = metadata
        self.articleID = articleID
        self.expectedRevision = expectedRevision
    }
}

/// An event as stored in the log (after upcasting, on every read path).
public struct RecordedEvent: Sendable, Hashable {
    public var position: Int64
    public var epoch: Int
    public var transactionID: UInt64
    public var stream: String
    public var revision: Int64
    public var id: UUID
    public var type: String
    public var schemaVersion: Int
    /// JSON object text.
    public var data: String
    /// JSON object text.
    public var metadata: String
    public var articleID: UUID?
    public var recordedAt: Date

    /// The epoch in which this event was read (cursors are issued in it).
    public var readInEpoch: Int = 0

    /// The cursor just after this event, issued in the epoch it was read in.
    public var cursor: StoreCursor {
        StoreCursor(epoch: epoch, transactionID: transactionID, position: position, issuedEpoch: Swift.max(epoch, readInEpoch))
    }
}

/// What happened to one appended event.
public struct AppendOutcome: Sendable, Hashable {
    public enum Status: String, Sendable {
        /// Stored now.
        case appended
        /// Stored before with the same type and data (G3): the original revision and position.
        case duplicate
    }

    public var id: UUID
    public var status: Status
    public var stream: String
    public var revision: Int64
    public var position: Int64
    public var cursor: StoreCursor
    public var recordedAt: Date
}

/// Why a batch was refused. Nothing of the batch was stored (G5).
public struct AppendRejection: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// The stream's revision was `actual`, not the expected one (G2).
        case wrongExpectedRevision(expected: Int64, actual: Int64)
        /// The event id was used before with another type or data (G3).
        case eventIDReused
        /// The same id appears twice in the batch.
        case duplicateInBatch
        /// The event was valid, but another event of the batch was refused.
        case notAttempted

        public var code: String {
            switch self {
            case .wrongExpectedRevision: return "wrong-expected-revision"
            case .eventIDReused: return "event-id-reused"
            case .duplicateInBatch: return "duplicate-in-batch"
            case .notAttempted: return "not-attempted"
            }
        }
    }

    /// The reason for every event of the batch that was refused (valid ones are `notAttempted`).
    public var reasons: [UUID: Reason]
    /// Event ids in batch order.
    public var order: [UUID]

    public var description: String {
        let lines = order.compactMap { id in reasons[id].map { "\(id): \($0.code)" } }
        return "append refused, nothing stored: " + lines.joined(separator: ", ")
    }
}

/// Errors of reading the log.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cursor cannot be honoured (another epoch: the database was restored); the reader
    /// must drop what it has and read again from the start.
    case mustRefetch(reason: String)
    /// The store was used before `start()`.
    case notStarted
    /// An event the log cannot hold; nothing of its batch was stored.
    case invalidEvent(id: UUID, reason: String)

    public var description: String {
        switch self {
        case .mustRefetch(let reason): return "must refetch: \(reason)"
        case .notStarted: return "the event store was not started"
        case .invalidEvent(let id, let reason): return "event \(id) refused: \(reason)"
        }
    }
}

/// One page of the log in read order (``EventStore/readPage(after:limit:articles:)``).
public struct ReadPage: Sendable {
    /// The events, in read order (after upcasting).
    public var events: [RecordedEvent]
    /// Where to resume: after the last event, or, when the page is complete, after the last
    /// event of the whole log the reader could see (so a filtered reader skips the rest).
    public var resumeCursor: StoreCursor
    /// The page holds every matching event the reader can see now (fewer than the limit).
    public var isComplete: Bool
}

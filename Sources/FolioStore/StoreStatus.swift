import Foundation
import LibPQ

/// One epoch of the log (G6): when it began and why.
public struct EpochRecord: Sendable, Equatable, Codable {
    public var epoch: Int
    public var startedAt: Date
    public var reason: String
}

/// What operators see of the store: `folio store status`, `/readyz` and `/metrics`.
public struct StoreStatus: Sendable, Equatable, Codable {
    /// The epoch appends go to; cursors of other epochs get must-refetch.
    public var epoch: Int
    /// Every epoch so far, oldest first. More than one means the database was restored from
    /// a logical dump at least once.
    public var epochs: [EpochRecord]
    /// This process began the current epoch when it started (a restore was detected now).
    public var beganNewEpochAtStart: Bool
    /// Events in the log.
    public var events: Int64
    /// The largest global position, 0 for an empty log.
    public var lastPosition: Int64
    /// Seconds the oldest open transaction of the database has been running (readers of
    /// the log wait for it).
    public var oldestTransactionAge: Double

    /// The current epoch's record.
    public var currentEpoch: EpochRecord? { epochs.last { $0.epoch == epoch } }
}

extension EventStore {
    static let epochsSQL: PostgresQuery = "SELECT epoch, started_at, reason FROM folio_epochs ORDER BY epoch"
    /// `count(*)` reads the whole log; the planner's estimate is enough past a million rows.
    static let sizeSQL: PostgresQuery = """
        SELECT CASE WHEN c.reltuples > 1000000 THEN c.reltuples::int8 ELSE (SELECT count(*) FROM events) END,
               coalesce((SELECT max(position) FROM events), 0)
          FROM pg_class AS c WHERE c.oid = 'events'::regclass
        """

    /// Every epoch, oldest first.
    public func epochs() async throws -> [EpochRecord] {
        try await pool.query(Self.epochsSQL).map { row in
            EpochRecord(epoch: try row.decode(Int.self, at: 0), startedAt: try row.decode(Date.self, at: 1), reason: try row.decode(String.self, at: 2))
        }
    }

    /// The store's state for operators.
    public func status() async throws -> StoreStatus {
        let epoch = try currentEpoch()
        let epochs = try await self.epochs()
        let size = try await pool.query(Self.sizeSQL)
        guard let row = size.first else { throw PostgresError.unexpectedResult(status: "no rows", context: "size of the log") }
        return StoreStatus(
            epoch: epoch, epochs: epochs, beganNewEpochAtStart: startReport?.beganNewEpoch ?? false,
            events: try row.decode(Int64.self, at: 0), lastPosition: try row.decode(Int64.self, at: 1),
            oldestTransactionAge: try await oldestTransactionAge())
    }
}

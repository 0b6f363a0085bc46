import Foundation

/// What a read model is doing, for `folio projections status`, `/metrics` and `/readyz`.
public struct ProjectionStatus: Sendable, Codable, Equatable {
    /// The state of a read model's projector.
    public enum State: String, Sendable, Codable {
        /// A projector holds the lock and follows the log.
        case active
        /// This process waits for the lock (another process is active).
        case standby
        /// A new generation is being built.
        case rebuilding
        /// No projector runs.
        case stopped
    }

    public var name: String
    /// The projection code's version (a new one rebuilds at start).
    public var version: Int
    /// The version the active generation was built with (nil before the first build).
    public var activeVersion: Int?
    /// The active generation (nil before the first build).
    public var generation: Int64?
    public var state: State
    /// The store cursor of the last event applied to the active generation.
    public var cursor: String?
    /// Events in the log after the cursor.
    public var lagEvents: Int
    /// Age of the oldest event not yet applied (0 when caught up).
    public var lagSeconds: Double
    /// Events applied to the active generation.
    public var events: Int
    /// A generation being built, and how many events it has so far.
    public var rebuildingGeneration: Int64?
    public var rebuildingEvents: Int?
}

/// A rebuild's progress, reported after every batch.
public struct RebuildProgress: Sendable {
    public var name: String
    public var generation: Int64
    /// Events applied to the new generation so far.
    public var events: Int
    /// Events in the log when the rebuild began (for an ETA; appends continue meanwhile).
    public var total: Int
    public var elapsed: Duration
    /// The fold has read every event readers may see, but not yet every event committed
    /// before the rebuild began: a transaction still open somewhere in the cluster holds back
    /// the log's read horizon (G4), and the rebuild waits for it before it swaps.
    public var waitingForLog = false

    /// Events per second so far.
    public var rate: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(events) / seconds : 0
    }

    /// Seconds left at the current rate (nil when unknown).
    public var secondsLeft: Double? {
        guard rate > 0, total > events else { return total > 0 && events >= total ? 0 : nil }
        return Double(total - events) / rate
    }
}

/// What a finished rebuild did.
public struct RebuildReport: Sendable, Codable, Equatable {
    public var name: String
    public var generation: Int64
    public var previousGeneration: Int64?
    public var version: Int
    public var events: Int
    public var seconds: Double
    public var eventsPerSecond: Double
    public var cursor: String
}

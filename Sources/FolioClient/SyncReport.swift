import Foundation

/// What one `sync` did: `{"pushed", "pulled", "conflicts"}` (SPEC §6), plus refusals.
public struct SyncReport: Sendable, Codable {
    /// Outbox events the server acknowledged in this sync.
    public var pushed: Int = 0
    /// Events pulled into the replica in this sync.
    public var pulled: Int = 0
    /// Conflicts the server recorded for this replica's edits, found in this sync.
    public var conflicts: [Conflict] = []
    /// Outbox events the server refused in this sync (role, invalid); `sync` exits 77.
    public var rejected: Int = 0

    public init() {}
}

import Foundation

/// One revision of an article in the replica, for `log`.
public struct RevisionInfo: Sendable, Hashable {
    public var revision: Int
    public var type: String
    public var author: String?
    /// RFC 3339.
    public var recordedAt: String
    public var summary: String?
    public var eventId: String
    /// Not yet in the pulled log (an outbox event shown on top).
    public var pending: Bool
}

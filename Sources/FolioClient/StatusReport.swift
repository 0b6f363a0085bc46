import Foundation

/// `status --json` (SPEC §9): `{"pending", "rejected": [...], "conflicts": [...], "lastSync", "server"}`.
public struct StatusReport: Sendable, Codable {
    /// A local event the server refused; kept, never retried.
    public struct Rejected: Sendable, Codable, Hashable {
        public var eventId: String
        public var type: String
        public var articleId: String
        public var error: String
    }

    /// Local events not yet acknowledged by the server.
    public var pending: Int
    public var rejected: [Rejected]
    public var conflicts: [Conflict]
    /// RFC 3339, or null before the first sync.
    public var lastSync: String?
    /// The server URL, or null before `login`.
    public var server: String?

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pending, forKey: .pending)
        try container.encode(rejected, forKey: .rejected)
        try container.encode(conflicts, forKey: .conflicts)
        try container.encode(lastSync, forKey: .lastSync)
        try container.encode(server, forKey: .server)
    }
}

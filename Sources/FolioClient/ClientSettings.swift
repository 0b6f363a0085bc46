import Foundation

/// What `login` stored and what sync keeps track of.
public struct ClientSettings: Sendable, Hashable {
    public var server: String?
    public var token: String?
    public var device: String
    /// The last cursor of the pulled log.
    public var cursor: String?
    /// RFC 3339 time of the last successful sync.
    public var lastSync: String?
}

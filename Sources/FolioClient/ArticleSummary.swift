import Foundation

/// An article as `list` shows it, from the pulled log (with pending events on top when the
/// caller folds them).
public struct ArticleSummary: Sendable, Hashable, Codable {
    public var id: String
    public var slug: String
    public var title: String
    public var language: String
    public var revision: Int
    public var archived: Bool
    public var updatedAt: String
    /// Pending local events of this article (not yet acknowledged by the server).
    public var pending: Int
}

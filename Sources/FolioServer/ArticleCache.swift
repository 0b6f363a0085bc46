import FolioCore
import FolioStore
import Foundation
import Synchronization

/// Articles as the server last read them from the log, so judging an edit reads only the
/// events since (not the whole stream) on every request.
///
/// The log stays the authority: each use reads the stream from the cached revision on, and an
/// append states the revision it was judged against, so a concurrent writer (this process or
/// another) makes the append fail and the request is judged again.
final class ArticleCache: Sendable {
    let store: EventStore
    let capacity: Int
    private let entries = Mutex([UUID: ArticleHistory]())

    init(store: EventStore, capacity: Int = 2000) {
        self.store = store
        self.capacity = capacity
    }

    /// The article's history up to the latest committed revision, or nil if it does not exist.
    func history(of article: UUID) async throws -> ArticleHistory? {
        let cached = entries.withLock { $0[article] }
        let from = Int64((cached?.revision ?? 0) + 1)
        let events = try await store.readStream(FolioEvent.articleStream(article), from: from)
        guard !events.isEmpty || cached != nil else { return nil }
        var history = cached
        for recorded in events {
            let event = try FolioEvent.decode(type: recorded.type, schemaVersion: recorded.schemaVersion, json: recorded.data)
            if var current = history {
                try current.append(event, revision: Int(recorded.revision), recordedAt: recorded.recordedAt)
                history = current
            } else if case .articleCreated(let created) = event {
                history = ArticleHistory(created: created, recordedAt: recorded.recordedAt)
            } else {
                throw ArticleStateError.notAnArticleEvent(type: recorded.type, revision: Int(recorded.revision))
            }
        }
        if let history, !events.isEmpty {
            entries.withLock { entries in
                if entries.count >= capacity, entries[article] == nil, let victim = entries.keys.first { entries[victim] = nil }
                // Keep the longer history if another request got further meanwhile.
                if (entries[article]?.revision ?? 0) < history.revision { entries[article] = history }
            }
        }
        return history
    }
}

import Foundation

/// Every revision of one article, cheap to query: the state at any revision (a snapshot every
/// `snapshotInterval` revisions plus the events since), the revision at any time (binary
/// search over recorded times), and the edits since a revision for the merge rule.
public struct ArticleHistory: Sendable {
    /// One revision.
    public struct Entry: Sendable, Hashable {
        public var revision: Int
        public var event: FolioEvent
        public var recordedAt: Date
        /// The text edit this revision made to the previous one (transformed when the event's
        /// base was older); nil for events that change no text.
        public var appliedEdit: TextEdit?
    }

    /// Revisions between snapshots.
    public let snapshotInterval: Int
    /// Entries for revisions 2, 3, … (`entries[i]` is revision `i + 2`).
    public private(set) var entries: [Entry] = []
    /// States at revisions 1, 1 + interval, 1 + 2·interval, ….
    private var snapshots: [ArticleState]
    private let createdAt: Date
    /// The latest state.
    public private(set) var current: ArticleState

    public init(created: ArticleCreated, recordedAt: Date, snapshotInterval: Int = 32) {
        let state = ArticleState(created: created, recordedAt: recordedAt)
        self.snapshotInterval = max(1, snapshotInterval)
        snapshots = [state]
        current = state
        createdAt = recordedAt
    }

    /// The latest revision.
    public var revision: Int { current.revision }

    /// Folds the next event and returns the text edit it made (nil if none). An
    /// `ArticleEdited` based on an older revision is transformed through the edits since
    /// (`merge`), exactly as the server did; one the merge rule refuses throws `conflictInLog`.
    @discardableResult
    public mutating func append(_ event: FolioEvent, revision: Int, recordedAt: Date) throws(ArticleStateError) -> TextEdit? {
        var resolved: TextEdit?
        if case .articleEdited(let edited) = event, edited.baseRevision < current.revision {
            guard edited.baseRevision >= 1 else { throw .staleBase(baseRevision: edited.baseRevision, revision: revision) }
            let outcome: MergeOutcome
            do {
                outcome = try FolioCore.merge(edit: edited.ops, baseRevision: edited.baseRevision, intervening: edits(since: edited.baseRevision))
            } catch {
                throw .edit(revision: revision, error)
            }
            switch outcome {
            case .applied(let edit), .transformed(let edit): resolved = edit
            case .conflicted(let revisions): throw .conflictInLog(revision: revision, conflictsWith: revisions)
            }
        }
        var next = current
        let applied = try next.apply(event, revision: revision, recordedAt: recordedAt, resolvedEdit: resolved)
        current = next
        entries.append(Entry(revision: revision, event: event, recordedAt: recordedAt, appliedEdit: applied))
        if (revision - 1) % snapshotInterval == 0 { snapshots.append(next) }
        return applied
    }

    /// The text edits after `revision`, in order, each with its revision (metadata events left out).
    public func edits(since revision: Int) -> [(revision: Int, edit: TextEdit)] {
        let first = max(0, revision - 1)
        guard first < entries.count else { return [] }
        return entries[first...].compactMap { entry in entry.appliedEdit.map { (entry.revision, $0) } }
    }

    /// The merge rule for an incoming edit against the current text: `merge(edit:…)` plus a
    /// check that the result applies to the current text (a transformed insert could join a
    /// cluster with a neighbour's concurrent insert; that is reported as a conflict with the
    /// intervening revisions).
    public func merge(edit: TextEdit, baseRevision: Int) throws(EditError) -> MergeOutcome {
        guard baseRevision >= 1, baseRevision <= current.revision else {
            throw .incompatible("base revision \(baseRevision) is not in 1...\(current.revision)")
        }
        let intervening = edits(since: baseRevision)
        let outcome = try FolioCore.merge(edit: edit, baseRevision: baseRevision, intervening: intervening)
        switch outcome {
        case .applied(let result), .transformed(let result):
            do {
                _ = try result.apply(to: current.content)
            } catch {
                if case .changesGraphemes = error, !intervening.isEmpty {
                    return .conflicted(conflictsWith: intervening.map(\.revision))
                }
                throw error
            }
        case .conflicted: break
        }
        return outcome
    }

    /// The article at `revision` (1…latest).
    public func state(at revision: Int) throws(ArticleStateError) -> ArticleState {
        guard revision >= 1, revision <= current.revision else { throw .noSuchRevision(revision) }
        let index = (revision - 1) / snapshotInterval
        var state = snapshots[index]
        var next = state.revision + 1
        while next <= revision {
            let entry = entries[next - 2]
            if case .articleEdited = entry.event {
                try state.apply(entry.event, revision: next, recordedAt: entry.recordedAt, resolvedEdit: entry.appliedEdit)
            } else {
                try state.apply(entry.event, revision: next, recordedAt: entry.recordedAt)
            }
            next += 1
        }
        return state
    }

    /// The latest revision recorded at or before `time`, or nil before the article existed.
    public func revision(at time: Date) -> Int? {
        guard time >= createdAt else { return nil }
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].recordedAt <= time { low = middle + 1 } else { high = middle }
        }
        return low + 1
    }
}

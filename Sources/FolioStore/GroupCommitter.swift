import Foundation
import LibPQ
import Logging
import Synchronization

/// Commits concurrent appends together.
///
/// While a commit is in flight, new append requests queue; the next commit takes all of them
/// and runs `BEGIN; folio_append(request 1); folio_append(request 2); …; COMMIT` as one
/// pipeline: one round trip and one WAL flush for many callers. Each request is still atomic
/// on its own: `folio_append` reports a refused request instead of raising, so it stores
/// nothing of that request and the others commit. If the group fails for any other reason
/// (e.g. two processes racing on one event id), every request is retried alone, so errors
/// reach only the caller they belong to.
final class GroupCommitter: Sendable {
    private struct Request {
        var events: [NewEvent]
        var epoch: Int
        var continuation: CheckedContinuation<[AppendOutcome], any Error>
    }

    private struct State {
        var pending: [Request] = []
        var running = 0
    }

    let pool: ConnectionPool
    let maxEventsPerCommit: Int
    let concurrentCommits: Int
    let logger: Logger
    private let state = Mutex(State())

    init(pool: ConnectionPool, maxEventsPerCommit: Int, concurrentCommits: Int, logger: Logger) {
        self.pool = pool
        self.maxEventsPerCommit = max(1, maxEventsPerCommit)
        self.concurrentCommits = max(1, concurrentCommits)
        self.logger = logger
    }

    func append(_ events: [NewEvent], epoch: Int) async throws -> [AppendOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            let startRunner = state.withLock { state -> Bool in
                state.pending.append(Request(events: events, epoch: epoch, continuation: continuation))
                guard state.running < concurrentCommits else { return false }
                state.running += 1
                return true
            }
            if startRunner {
                Task { await self.drain() }
            }
        }
    }

    /// Commits queued requests until the queue is empty.
    private func drain() async {
        while true {
            let group = state.withLock { state -> [Request] in
                var taken: [Request] = []
                var events = 0
                while let first = state.pending.first, taken.isEmpty || events + first.events.count <= maxEventsPerCommit {
                    taken.append(state.pending.removeFirst())
                    events += first.events.count
                }
                if taken.isEmpty { state.running -= 1 }
                return taken
            }
            if group.isEmpty { return }
            await commit(group)
        }
    }

    private func commit(_ group: [Request]) async {
        let queries = group.map { Self.appendQuery(epoch: $0.epoch, events: $0.events) }
        let results: [Result<[AppendOutcome], any Error>]
        do {
            results = try await pool.withConnection { connection in
                do {
                    let answers = try connection.pipeline(["BEGIN"] + queries + ["COMMIT"])
                    return zip(group, answers.dropFirst()).map { request, answer in
                        Result { try Self.outcomes(answer, request.events) }
                    }
                } catch {
                    if connection.isHealthy, connection.transactionStatus != .idle { _ = try? connection.execute("ROLLBACK") }
                    guard group.count > 1 else { throw error }
                    // Retry each request alone, so an error reaches only its own caller.
                    return queries.enumerated().map { index, query in
                        Result {
                            let answers = try connection.pipeline(["BEGIN", query, "COMMIT"])
                            return try Self.outcomes(answers[1], group[index].events)
                        }
                    }
                }
            }
        } catch {
            group.forEach { $0.continuation.resume(throwing: error) }
            return
        }
        for (request, result) in zip(group, results) {
            request.continuation.resume(with: result)
        }
    }

    static func appendQuery(epoch: Int, events: [NewEvent]) -> PostgresQuery {
        let streams = events.map(\.stream)
        let ids = events.map(\.id)
        let types = events.map(\.type)
        let versions = events.map { Int32($0.schemaVersion) }
        let data = events.map { PostgresRawJSON($0.data) }
        let metadata = events.map { PostgresRawJSON($0.metadata) }
        let articles = PostgresNullableArray(events.map(\.articleID))
        let expected = PostgresNullableArray(events.map(\.expectedRevision))
        return """
            SELECT event_id, status, stream_id, stream_revision, event_position, epoch, transaction_id, recorded_at
              FROM folio_append(\(Int32(epoch)), \(streams), \(ids), \(types), \(versions), \(data), \(metadata), \(articles), \(expected))
            """
    }

    /// Turns `folio_append`'s rows into outcomes, or the batch's rejection.
    static func outcomes(_ result: QueryResult, _ events: [NewEvent]) throws -> [AppendOutcome] {
        var outcomes: [AppendOutcome] = []
        var reasons: [UUID: AppendRejection.Reason] = [:]
        for (row, event) in zip(result, events) {
            let status = try row.decode(String.self, at: 1)
            switch status {
            case "appended", "duplicate":
                outcomes.append(AppendOutcome(
                    id: event.id, status: status == "appended" ? .appended : .duplicate, stream: event.stream,
                    revision: try row.decode(Int64.self, at: 3), position: try row.decode(Int64.self, at: 4),
                    cursor: StoreCursor(
                        epoch: try row.decode(Int.self, at: 5), transactionID: try row.decode(PostgresXID8.self, at: 6).value,
                        position: try row.decode(Int64.self, at: 4)),
                    recordedAt: try row.decode(Date.self, at: 7)))
            case "wrong-expected-revision":
                reasons[event.id] = .wrongExpectedRevision(expected: event.expectedRevision ?? -1, actual: try row.decode(Int64.self, at: 3))
            case "event-id-reused":
                reasons[event.id] = .eventIDReused
            case "duplicate-in-batch":
                reasons[event.id] = .duplicateInBatch
            default:
                reasons[event.id] = .notAttempted
            }
        }
        guard reasons.isEmpty else { throw AppendRejection(reasons: reasons, order: events.map(\.id)) }
        guard outcomes.count == events.count else {
            throw PostgresError.unexpectedResult(status: "\(outcomes.count) rows", context: "folio_append of \(events.count) events")
        }
        return outcomes
    }
}

/// Sends `NOTIFY` after commits, at most once per interval, outside any append transaction
/// (a NOTIFY inside each append would serialize commits on the notification queue lock).
final class NotifyCoalescer: Sendable {
    private struct State {
        var scheduled = false
        var lastSent: ContinuousClock.Instant?
    }

    let pool: ConnectionPool
    let channel: String
    let interval: Duration
    private let state = Mutex(State())

    init(pool: ConnectionPool, channel: String, interval: Duration) {
        self.pool = pool
        self.channel = channel
        self.interval = interval
    }

    func request() {
        let lastSent = state.withLock { state -> ContinuousClock.Instant?? in
            if state.scheduled { return .none }
            state.scheduled = true
            return .some(state.lastSent)
        }
        guard case .some(let previous) = lastSent else { return }
        Task {
            if let previous {
                let due = previous + interval
                if ContinuousClock.now < due { try? await Task.sleep(until: due, clock: .continuous) }
            }
            // Clear the flag first: commits from now on need a notification of their own.
            state.withLock { state in
                state.scheduled = false
                state.lastSent = ContinuousClock.now
            }
            _ = try? await pool.query("SELECT pg_notify(\(channel), '')")
        }
    }
}

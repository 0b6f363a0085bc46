import Foundation
import LibPQ
import Logging
import Synchronization

/// Commits concurrent appends together.
///
/// While a commit is in flight, new append requests queue; the next commit takes all of them
/// and writes them with one `folio_append` call (requests that share a stream or an event id
/// with an earlier one go into later calls of the same transaction, see ``layers(_:)``): one
/// round trip and one WAL flush for many callers. Each request is still atomic on its own:
/// `folio_append` reports a refused request instead of raising, so it stores nothing of that
/// request and the others commit. If the group fails for any other reason (e.g. two processes
/// racing on one event id, or data PostgreSQL refuses), every request is retried alone, so
/// errors reach only the caller they belong to.
final class GroupCommitter: Sendable {
    private struct Request {
        var events: [NewEvent]
        var epoch: Int
        var continuation: CheckedContinuation<[AppendOutcome], any Error>
    }

    private struct State {
        var pending: [Request] = []
        var running = 0
        var statistics = CommitStatistics()
    }

    /// Totals since start, for metrics: how well commits are shared.
    var statistics: CommitStatistics { state.withLock { $0.statistics } }

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
                if taken.isEmpty {
                    state.running -= 1
                } else {
                    state.statistics.commits += 1
                    state.statistics.requests += taken.count
                    state.statistics.events += events
                }
                return taken
            }
            if group.isEmpty { return }
            let started = ContinuousClock.now
            await commit(group)
            let elapsed = ContinuousClock.now - started
            state.withLock { $0.statistics.busy += elapsed }
        }
    }

    private func commit(_ group: [Request]) async {
        let layers = Self.layers(group.map(\.events))
        let results: [Result<[AppendOutcome], any Error>]
        do {
            results = try await pool.withConnection { connection in
                let statement = try connection.prepare(AppendCall.sql)
                do {
                    let calls: [PipelineStep] = layers.map { layer in
                        .prepared(statement, AppendCall.bindings(epoch: group[0].epoch, requests: layer.map { group[$0].events }))
                    }
                    // One call is one statement, atomic on its own; several run in one transaction.
                    let answers: [QueryResult]
                    if calls.count == 1, case .prepared(let statement, let binds) = calls[0] {
                        answers = [try connection.execute(statement, binds)]
                    } else {
                        answers = Array(try connection.pipeline([.query("BEGIN")] + calls + [.query("COMMIT")]).dropFirst())
                    }
                    var results = [Result<[AppendOutcome], any Error>](repeating: .failure(PostgresError.misuse("no result")), count: group.count)
                    for (layer, answer) in zip(layers, answers) {
                        var row = 0
                        for index in layer {
                            let events = group[index].events
                            results[index] = Result { try Self.outcomes(answer, rows: row..<(row + events.count), events) }
                            row += events.count
                        }
                    }
                    return results
                } catch {
                    guard group.count > 1 else { throw error }
                    // Retry each request alone, so an error reaches only its own caller.
                    return group.map { request in
                        Result {
                            let answers = try connection.pipeline([
                                .query("BEGIN"), .prepared(statement, AppendCall.bindings(epoch: request.epoch, requests: [request.events])), .query("COMMIT"),
                            ])
                            return try Self.outcomes(answers[1], rows: 0..<request.events.count, request.events)
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

    /// Splits a group into calls of `folio_append` whose requests share no stream and no
    /// event id (each request is judged on its own only when they are independent). Usually
    /// one layer; a request touching a stream of an earlier one goes to a later layer, which
    /// runs after it in the same transaction.
    static func layers(_ requests: [[NewEvent]]) -> [[Int]] {
        var layers: [(indices: [Int], streams: Set<String>, ids: Set<UUID>)] = []
        for (index, events) in requests.enumerated() {
            let streams = Set(events.map(\.stream))
            let ids = Set(events.map(\.id))
            // After the last layer it conflicts with, so order on a stream is kept.
            let lastConflict = layers.lastIndex { !$0.streams.isDisjoint(with: streams) || !$0.ids.isDisjoint(with: ids) }
            let target = lastConflict.map { $0 + 1 } ?? 0
            if target < layers.count {
                layers[target].indices.append(index)
                layers[target].streams.formUnion(streams)
                layers[target].ids.formUnion(ids)
            } else {
                layers.append(([index], streams, ids))
            }
        }
        return layers.map(\.indices)
    }

    /// One request as a plain query (for tests that hold a transaction open by hand).
    static func appendQuery(epoch: Int, events: [NewEvent]) -> PostgresQuery {
        PostgresQuery(unsafeSQL: AppendCall.sql, binds: AppendCall.bindings(epoch: epoch, requests: [events]))
    }

    /// Turns `folio_append`'s rows into outcomes, or the batch's rejection.
    static func outcomes(_ result: QueryResult, rows: Range<Int>, _ events: [NewEvent]) throws -> [AppendOutcome] {
        var outcomes: [AppendOutcome] = []
        var reasons: [UUID: AppendRejection.Reason] = [:]
        guard rows.upperBound <= result.count else {
            throw PostgresError.unexpectedResult(status: "\(result.count) rows", context: "folio_append of \(rows.upperBound) events")
        }
        for (row, event) in zip(rows.map { result[$0] }, events) {
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

/// How many group commits carried how many append calls and events.
public struct CommitStatistics: Sendable, Equatable {
    public var commits = 0
    public var requests = 0
    public var events = 0
    /// Time spent committing (summed over concurrent commits).
    public var busy: Duration = .zero

    public init() {}
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

/// The one SQL call that writes events: `folio_append` (migration 0003), as the group
/// committer sends it (prepared once per connection).
public enum AppendCall {
    public static let sql = """
        SELECT event_id, status, stream_id, stream_revision, event_position, epoch, transaction_id, recorded_at
          FROM folio_append($1::int, $2::int[], $3::text[], $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[], $9::uuid[], $10::int8[])
        """

    /// The parameters of one `folio_append` call carrying `requests`.
    public static func bindings(epoch: Int, requests: [[NewEvent]]) -> PostgresBindings {
        let events = requests.flatMap { $0 }
        var numbers: [Int32] = []
        for (index, request) in requests.enumerated() {
            numbers += Array(repeating: Int32(index + 1), count: request.count)
        }
        var binds = PostgresBindings(capacity: 10)
        binds.append(Int32(epoch))
        binds.append(numbers)
        binds.append(events.map(\.stream))
        binds.append(events.map(\.id))
        binds.append(events.map(\.type))
        binds.append(events.map { Int32($0.schemaVersion) })
        binds.append(events.map { PostgresRawJSON($0.data) })
        binds.append(events.map { PostgresRawJSON($0.metadata) })
        binds.append(PostgresNullableArray(events.map(\.articleID)))
        binds.append(PostgresNullableArray(events.map(\.expectedRevision)))
        return binds
    }

}

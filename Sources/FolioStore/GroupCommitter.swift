import Foundation
import LibPQ
import Logging
import Synchronization

/// Commits concurrent appends together.
///
/// While a commit is in flight, new append requests queue; the next commit takes all of them
/// and writes them in one transaction: one round trip and one WAL flush for many callers.
/// Requests that share a stream or an event id with an earlier one go into later statements of
/// the same transaction (see ``layers(_:)``). Requests whose event ids are distinct go through
/// `folio_append_new_events` (migration 0007: insert first, check expected revisions on the
/// rows as inserted, judge only events whose id was stored before), the others through
/// `folio_append` (every event judged under per-stream locks); see ``plan(_:newEventsPath:)``.
///
/// One commit is in flight at a time unless the queue holds at least
/// `eventsForConcurrentCommit` events: then up to `concurrentCommits` run at once. Callers that
/// each wait for one event never queue that many, so they share one commit instead of
/// splitting into two half-size ones (16 single-event callers: groups of 16 instead of two of
/// 8, 12 % more appends per second, docs/performance.md); batches fill the queue at once and
/// get a second commit, which overlaps one transaction's round trips with the other's work.
///
/// Each request is still atomic on its own: both functions report a refused request instead
/// of raising, so it stores nothing of that request and the others commit. When the fast path
/// cannot judge an event alone (a mismatched expected revision, a stored event in a batch of
/// several) or loses a race for a revision, it raises, nothing of the group is stored, and the
/// group is written again through `folio_append`. If a group fails for any other reason (e.g.
/// data PostgreSQL refuses), every request is retried alone, so errors reach only the caller
/// they belong to.
final class GroupCommitter: Sendable {
    private struct Request {
        var events: [NewEvent]
        var epoch: Int
        var continuation: CheckedContinuation<[AppendOutcome], any Error>
    }

    private struct State {
        var pending: [Request] = []
        /// Events of the requests in `pending`.
        var pendingEvents = 0
        var running = 0
        /// Streams written by the groups in flight, with how many of those groups write each.
        var streamsInFlight: [String: Int] = [:]
        var statistics = CommitStatistics()
    }

    /// Totals since start, for metrics: how well commits are shared.
    var statistics: CommitStatistics { state.withLock { $0.statistics } }

    let pool: ConnectionPool
    let maxEventsPerCommit: Int
    let concurrentCommits: Int
    /// Queued events from which a further commit starts while one is in flight.
    let eventsForConcurrentCommit: Int
    let logger: Logger
    private let state = Mutex(State())

    /// Whether requests may go through `folio_append_new_events`.
    let fastPath: Bool

    init(
        pool: ConnectionPool, maxEventsPerCommit: Int, concurrentCommits: Int, eventsForConcurrentCommit: Int = 1,
        fastPath: Bool = true, logger: Logger
    ) {
        self.pool = pool
        self.maxEventsPerCommit = max(1, maxEventsPerCommit)
        self.concurrentCommits = max(1, concurrentCommits)
        self.eventsForConcurrentCommit = max(1, eventsForConcurrentCommit)
        self.fastPath = fastPath
        self.logger = logger
    }

    func append(_ events: [NewEvent], epoch: Int) async throws -> [AppendOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            let startRunner = state.withLock { state -> Bool in
                state.pending.append(Request(events: events, epoch: epoch, continuation: continuation))
                state.pendingEvents += events.count
                guard state.running < concurrentCommits else { return false }
                guard state.running == 0 || state.pendingEvents >= eventsForConcurrentCommit else { return false }
                state.running += 1
                state.statistics.peakConcurrentCommits = max(state.statistics.peakConcurrentCommits, state.running)
                return true
            }
            if startRunner {
                Task { await self.drain() }
            }
        }
    }

    /// Commits queued requests until the queue is empty.
    ///
    /// A request that writes a stream of a group still in flight waits for that group: the
    /// fast path takes no stream locks, so two transactions numbering one stream at once would
    /// make one of them fail on the primary key (and be written again), or even deadlock.
    private func drain() async {
        while true {
            let group = state.withLock { state -> (requests: [Request], streams: Set<String>) in
                var taken: [Request] = []
                var streams = Set<String>()
                var events = 0
                var index = 0
                while index < state.pending.count {
                    let request = state.pending[index]
                    if !taken.isEmpty && events + request.events.count > maxEventsPerCommit { break }
                    if !state.streamsInFlight.isEmpty && request.events.contains(where: { state.streamsInFlight[$0.stream] != nil }) {
                        index += 1
                        continue
                    }
                    taken.append(state.pending.remove(at: index))
                    state.pendingEvents -= request.events.count
                    events += request.events.count
                    for event in request.events { streams.insert(event.stream) }
                }
                if taken.isEmpty {
                    state.running -= 1
                } else {
                    for stream in streams { state.streamsInFlight[stream, default: 0] += 1 }
                    state.statistics.commits += 1
                    state.statistics.requests += taken.count
                    state.statistics.events += events
                }
                return (taken, streams)
            }
            if group.requests.isEmpty { return }
            let started = ContinuousClock.now
            await commit(group.requests)
            let elapsed = ContinuousClock.now - started
            state.withLock { state in
                state.statistics.busy += elapsed
                for stream in group.streams {
                    let count = state.streamsInFlight[stream, default: 1] - 1
                    state.streamsInFlight[stream] = count == 0 ? nil : count
                }
            }
            // Let the callers just resumed run first: many append again at once, and the next
            // group should carry them rather than leave them for the one after.
            await Task.yield()
        }
    }

    private func commit(_ group: [Request]) async {
        let requests = group.map(\.events)
        let written: Written
        do {
            let fastPath = self.fastPath
            written = try await pool.withConnection { connection in
                let started = ContinuousClock.now
                var written = try Self.write(requests, epoch: group[0].epoch, fastPath: fastPath, on: connection)
                written.duration = ContinuousClock.now - started
                return written
            }
        } catch {
            group.forEach { $0.continuation.resume(throwing: error) }
            return
        }
        state.withLock { state in
            state.statistics.writing += written.duration
            if written.fellBack { state.statistics.fallbacks += 1 }
            if written.retriedAlone { state.statistics.retriedAlone += 1 }
            for call in written.calls {
                if call.path == .newEvents { state.statistics.newEventsCalls += 1 } else { state.statistics.checkedCalls += 1 }
            }
        }
        for (request, result) in zip(group, written.results) {
            request.continuation.resume(with: result)
        }
    }

    /// What writing one group did.
    struct Written {
        /// Each request's outcomes or error, in group order.
        var results: [Result<[AppendOutcome], any Error>]
        /// The statements of the transaction that committed (empty when each request was
        /// written alone).
        var calls: [Call]
        /// The fast path refused and the group was written again through `folio_append`.
        var fellBack = false
        /// The group failed as a whole and each request was written alone.
        var retriedAlone = false
        /// Time on the connection (statements, round trips, commit).
        var duration: Duration = .zero
    }

    /// Writes one group on `connection`: through ``plan(_:newEventsPath:)`` in one transaction;
    /// again through `folio_append` only if the fast path refused; each request alone if the
    /// group failed for another reason (so an error reaches only its own caller).
    static func write(_ requests: [[NewEvent]], epoch: Int, fastPath: Bool = true, on connection: Connection) throws -> Written {
        let statements = try Statements(connection)
        let plan = plan(requests, newEventsPath: fastPath)
        do {
            do {
                return Written(results: try run(plan, requests: requests, epoch: epoch, on: connection, statements), calls: plan)
            } catch where plan.contains(where: { $0.path == .newEvents }) && isRace(error) {
                // The fast path met a stored event it cannot judge alone, or lost a race for a
                // revision: nothing of the group is stored. Write it again through
                // folio_append, which judges every event under its streams' locks.
                let checked = self.plan(requests, newEventsPath: false)
                return Written(results: try run(checked, requests: requests, epoch: epoch, on: connection, statements), calls: checked, fellBack: true)
            }
        } catch {
            guard requests.count > 1 || isRace(error) else { throw error }
            let results = requests.map { events in
                Result { try appendAlone(events, epoch: epoch, on: connection, statements) }
            }
            return Written(results: results, calls: [], retriedAlone: true)
        }
    }

    /// The two append statements, prepared once per connection.
    struct Statements {
        let checked: PreparedStatement
        let newEvents: PreparedStatement

        init(_ connection: Connection) throws {
            checked = try connection.prepare(AppendCall.sql)
            newEvents = try connection.prepare(AppendNewEventsCall.sql)
        }
    }

    /// Which SQL function one call of a group goes through.
    enum Path: Sendable, Equatable {
        /// `folio_append_new_events` (migration 0007): insert first, judge only what conflicted,
        /// raise when `folio_append` must judge.
        case newEvents
        /// `folio_append` (migrations 0003, 0004): every event judged under per-stream locks.
        case checked
    }

    /// One statement of a group commit: these requests (indices into the group) through `path`.
    struct Call: Sendable, Equatable {
        var path: Path
        var requests: [Int]
    }

    /// The statements that write a group, in order: one per ``layers(_:)`` layer and path.
    /// Requests without a repeated event id go through the fast path (unless `newEventsPath`
    /// is false); the others through `folio_append`. Requests of
    /// one layer share no stream and no event id, so splitting a layer keeps every outcome.
    static func plan(_ requests: [[NewEvent]], newEventsPath: Bool = true) -> [Call] {
        layers(requests).flatMap { layer -> [Call] in
            guard newEventsPath else { return [Call(path: .checked, requests: layer)] }
            let fast = layer.filter { fitsNewEventsPath(requests[$0]) }
            let checked = layer.filter { !fitsNewEventsPath(requests[$0]) }
            return [Call(path: .newEvents, requests: fast), Call(path: .checked, requests: checked)].filter { !$0.requests.isEmpty }
        }
    }

    /// Whether a request may go through `folio_append_new_events`: no event id appears twice
    /// in it (`duplicate-in-batch` is judged by `folio_append`).
    static func fitsNewEventsPath(_ events: [NewEvent]) -> Bool {
        if events.count == 1 { return true }
        var ids = Set<UUID>(minimumCapacity: events.count)
        return events.allSatisfy { ids.insert($0.id).inserted }
    }

    /// Errors after which writing the group again can succeed: the fast path refused to judge
    /// an event (FO002: e.g. an expected revision that does not match), a unique violation (a race for a revision or an event id with another
    /// transaction), or a deadlock between such racing transactions. Nothing was stored.
    static func isRace(_ error: any Error) -> Bool {
        guard let state = (error as? PostgresError)?.sqlState else { return false }
        return state == "FO002" || state == "23505" || state == "40P01"
    }

    /// Writes the calls of one group in one transaction and returns every request's outcome.
    static func run(
        _ calls: [Call], requests: [[NewEvent]], epoch: Int, on connection: Connection, _ statements: Statements
    ) throws -> [Result<[AppendOutcome], any Error>] {
        let steps: [PipelineStep] = calls.map { call in
            let events = call.requests.map { requests[$0] }
            switch call.path {
            case .newEvents: return .prepared(statements.newEvents, AppendNewEventsCall.bindings(epoch: epoch, requests: events))
            case .checked: return .prepared(statements.checked, AppendCall.bindings(epoch: epoch, requests: events))
            }
        }
        // One call is one statement, atomic on its own; several run in one transaction.
        let answers: [QueryResult]
        if steps.count == 1, case .prepared(let statement, let binds) = steps[0] {
            answers = [try connection.execute(statement, binds)]
        } else {
            answers = Array(try connection.pipeline([.query("BEGIN")] + steps + [.query("COMMIT")]).dropFirst())
        }
        var results = [Result<[AppendOutcome], any Error>](repeating: .failure(PostgresError.misuse("no result")), count: requests.count)
        for (call, answer) in zip(calls, answers) {
            switch call.path {
            case .newEvents:
                let rows = try AppendNewEventsCall.rows(answer, count: call.requests.reduce(0) { $0 + requests[$1].count })
                var offset = 0
                for index in call.requests {
                    let events = requests[index]
                    results[index] = Result { try AppendNewEventsCall.outcomes(rows[offset..<(offset + events.count)], events) }
                    offset += events.count
                }
            case .checked:
                var row = 0
                for index in call.requests {
                    let events = requests[index]
                    results[index] = Result { try Self.outcomes(answer, rows: row..<(row + events.count), events) }
                    row += events.count
                }
            }
        }
        return results
    }

    /// One request in a transaction of its own, through `folio_append`; a race with another
    /// transaction (see ``isRace(_:)``) is retried a few times.
    static func appendAlone(_ events: [NewEvent], epoch: Int, on connection: Connection, _ statements: Statements) throws -> [AppendOutcome] {
        var attempt = 1
        while true {
            do {
                let answers = try connection.pipeline([
                    .query("BEGIN"), .prepared(statements.checked, AppendCall.bindings(epoch: epoch, requests: [events])), .query("COMMIT"),
                ])
                return try outcomes(answers[1], rows: 0..<events.count, events)
            } catch where attempt < 3 && isRace(error) {
                attempt += 1
            }
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
    /// Most group commits that were in flight at once.
    public var peakConcurrentCommits = 0
    /// Time spent committing (summed over concurrent commits).
    public var busy: Duration = .zero
    /// The part of ``busy`` spent on the connection (statements, round trips, commit); the
    /// rest is leasing the connection, hopping threads and resuming callers.
    public var writing: Duration = .zero
    /// Statements through `folio_append_new_events` (no expected revisions: insert first).
    public var newEventsCalls = 0
    /// Statements through `folio_append` (every event judged first).
    public var checkedCalls = 0
    /// Groups the fast path refused (a stored event it could not judge alone, or a lost race)
    /// and that were written again through `folio_append`.
    public var fallbacks = 0
    /// Groups that failed as a whole (e.g. data PostgreSQL refuses) and whose requests were
    /// then written one by one.
    public var retriedAlone = 0

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

/// The SQL call that judges every event before writing: `folio_append` (migrations 0003,
/// 0004), as the group committer sends it (prepared once per connection).
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
        binds.appendEventColumns(events)
        return binds
    }

}

/// The fast SQL call: `folio_append_new_events` (migration 0007) inserts first, checks
/// expected revisions on the rows as inserted, judges only the events whose id was stored
/// before, and raises (nothing stored) whenever `folio_append` must judge instead. Its rows
/// come in any order, each with the event's 1-based place in the call.
public enum AppendNewEventsCall {
    public static let sql = """
        SELECT k, status, stream_revision, event_position, epoch, transaction_id, recorded_at
          FROM folio_append_new_events($1::int, $2::int[], $3::int[], $4::text[], $5::uuid[], $6::text[], $7::int[], $8::jsonb[], $9::jsonb[], $10::uuid[], $11::int8[])
        """

    /// The parameters of one call carrying `requests`, which must share no stream and no event
    /// id (``GroupCommitter/layers(_:)``), each with distinct ids.
    public static func bindings(epoch: Int, requests: [[NewEvent]]) -> PostgresBindings {
        let events = requests.flatMap { $0 }
        var numbers: [Int32] = []
        var nth: [Int32] = []
        numbers.reserveCapacity(events.count)
        nth.reserveCapacity(events.count)
        for (index, request) in requests.enumerated() {
            numbers += Array(repeating: Int32(index + 1), count: request.count)
            if request.count == 1 {
                nth.append(1)
            } else {
                // The event's place among its stream's events in this request (and so in the
                // call: requests of one call share no stream).
                var seen: [String: Int32] = [:]
                for event in request {
                    let place = (seen[event.stream] ?? 0) + 1
                    seen[event.stream] = place
                    nth.append(place)
                }
            }
        }
        var binds = PostgresBindings(capacity: 11)
        binds.append(Int32(epoch))
        binds.append(numbers)
        binds.append(nth)
        binds.appendEventColumns(events)
        return binds
    }

    /// One decoded row of `folio_append_new_events`.
    struct Row {
        var status: String
        var revision: Int64?
        var position: Int64?
        var epoch: Int?
        var transactionID: UInt64?
        var recordedAt: Date?
    }

    /// The rows of one call, in input order.
    static func rows(_ result: QueryResult, count: Int) throws -> [Row] {
        guard result.count == count else {
            throw PostgresError.unexpectedResult(status: "\(result.count) rows", context: "folio_append_new_events of \(count) events")
        }
        var rows = [Row?](repeating: nil, count: count)
        for row in result {
            let k = try row.decode(Int.self, at: 0)
            guard (1...count).contains(k), rows[k - 1] == nil else {
                throw PostgresError.unexpectedResult(status: "row \(k)", context: "folio_append_new_events of \(count) events")
            }
            rows[k - 1] = Row(
                status: try row.decode(String.self, at: 1), revision: try row.decode(Int64?.self, at: 2),
                position: try row.decode(Int64?.self, at: 3), epoch: try row.decode(Int?.self, at: 4),
                transactionID: try row.decode(PostgresXID8?.self, at: 5)?.value, recordedAt: try row.decode(Date?.self, at: 6))
        }
        return rows.map { $0! }
    }

    /// Outcomes of one request from its rows, or its rejection (`event-id-reused`: the
    /// function reports it only for requests of one event, so nothing else was stored).
    static func outcomes(_ rows: ArraySlice<Row>, _ events: [NewEvent]) throws -> [AppendOutcome] {
        var outcomes: [AppendOutcome] = []
        outcomes.reserveCapacity(events.count)
        var reasons: [UUID: AppendRejection.Reason] = [:]
        for (row, event) in zip(rows, events) {
            switch row.status {
            case "appended", "duplicate":
                guard let revision = row.revision, let position = row.position, let eventEpoch = row.epoch,
                      let transactionID = row.transactionID, let recordedAt = row.recordedAt
                else {
                    throw PostgresError.unexpectedResult(status: "incomplete row", context: "folio_append_new_events, event \(event.id)")
                }
                outcomes.append(AppendOutcome(
                    id: event.id, status: row.status == "appended" ? .appended : .duplicate, stream: event.stream,
                    revision: revision, position: position,
                    cursor: StoreCursor(epoch: eventEpoch, transactionID: transactionID, position: position),
                    recordedAt: recordedAt))
            case "event-id-reused":
                reasons[event.id] = .eventIDReused
            default:
                throw PostgresError.unexpectedResult(status: row.status, context: "folio_append_new_events, event \(event.id)")
            }
        }
        guard reasons.isEmpty else {
            for event in events where reasons[event.id] == nil { reasons[event.id] = .notAttempted }
            throw AppendRejection(reasons: reasons, order: events.map(\.id))
        }
        return outcomes
    }
}

extension PostgresBindings {
    /// The per-event array parameters both append functions end with, in their order: stream,
    /// event id, type, schema version, data, metadata, article id, expected revision.
    mutating func appendEventColumns(_ events: [NewEvent]) {
        append(events.map(\.stream))
        append(events.map(\.id))
        append(events.map(\.type))
        append(events.map { Int32($0.schemaVersion) })
        append(events.map { PostgresRawJSON($0.data) })
        append(events.map { PostgresRawJSON($0.metadata) })
        append(PostgresNullableArray(events.map(\.articleID)))
        append(PostgresNullableArray(events.map(\.expectedRevision)))
    }
}

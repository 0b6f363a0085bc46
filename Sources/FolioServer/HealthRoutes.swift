import FolioStore
import Foundation
import Hummingbird
import LibPQ

/// `/healthz` (the process is up) and `/readyz` (the database answers and its schema is
/// current). Neither needs a token.
struct HealthRoutes: Sendable {
    let pool: ConnectionPool
    let migrations: [Migration]
    let store: EventStore?

    struct Health: Encodable {
        var status: String
    }

    struct Readiness: Encodable {
        var status: String
        var database: String
        var migrations: String
        var pending: [Int]
        /// The store's epoch; `epochReason` says why it began (G6: a restore is reported here).
        var epoch: Int?
        var epochStartedAt: Date?
        var epochReason: String?
        var newEpochAtStart: Bool?
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in
            JSONBody.response(Health(status: "ok"))
        }
        router.get("/readyz") { _, _ in
            await readiness()
        }
    }

    func readiness() async -> Response {
        let migrator = Migrator(pool: pool, migrations: migrations)
        let report: MigrationReport
        do {
            report = try await withThrowingTimeout(seconds: 5) { try await migrator.status() }
        } catch {
            return APIError.databaseUnavailable("\(error)").response()
        }
        let pending = report.pending.map(\.version)
        if !report.problems.isEmpty {
            return APIError(status: .serviceUnavailable, code: "migrations-changed",
                            message: "applied migrations differ from the files; run `folio migrate verify`",
                            details: ["versions": report.problems.map { String($0.version) }.joined(separator: ",")],
                            retryAfter: 30).response()
        }
        if !pending.isEmpty {
            return APIError(status: .serviceUnavailable, code: "migrations-pending",
                            message: "the database schema is not current; run `folio migrate up`",
                            details: ["pending": pending.map(String.init).joined(separator: ",")],
                            retryAfter: 30).response()
        }
        if let store, store.startReport == nil {
            return APIError(status: .serviceUnavailable, code: "store-starting", message: "the event store is starting",
                            retryAfter: 1).response()
        }
        var ready = Readiness(status: "ready", database: "ok", migrations: "current", pending: [])
        if let store, let epoch = try? store.currentEpoch() {
            ready.epoch = epoch
            ready.newEpochAtStart = store.startReport?.beganNewEpoch ?? false
            if let record = try? await store.epochs().last(where: { $0.epoch == epoch }) {
                ready.epochStartedAt = record.startedAt
                ready.epochReason = record.reason
            }
        }
        return JSONBody.response(ready)
    }
}

/// Runs `operation`, throwing `CancellationError` if it takes longer than `seconds`.
func withThrowingTimeout<T: Sendable>(seconds: Int, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw CancellationError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

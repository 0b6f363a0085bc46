import FolioProjector
import FolioStore
import Foundation
import Hummingbird
import LibPQ
import Prometheus
import Synchronization

/// The server's Prometheus metrics (`GET /metrics`, no token).
///
/// Counters of things the server does are incremented where they happen. Values the store
/// and the pool already keep (epoch, open transactions, pool use, group commits) are read
/// when Prometheus scrapes, so they are never stale.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    let databaseUp: Gauge
    let storeEpoch: Gauge
    let storeEpochs: Gauge
    let storeNewEpochAtStart: Gauge
    let storeEvents: Gauge
    let storeLastPosition: Gauge
    let oldestTransactionAge: Gauge
    let groupCommits: Counter
    let appendCalls: Counter
    let appendedEvents: Counter
    let poolOpen: Gauge
    let poolIdle: Gauge
    let poolWaiting: Gauge
    let poolMax: Gauge
    let liveStreams: Gauge
    let postedEvents: [AppendResult.Status: Counter]
    let refusedBatches: Counter
    let projectorLagEvents: Gauge
    let projectorLagSeconds: Gauge
    let projectorActive: Gauge

    /// Group-commit totals already turned into counter increments.
    private let reportedCommits = Mutex(CommitStatistics())

    public init() {
        databaseUp = gauge(registry, "folio_database_up", help: "1 when the last scrape reached PostgreSQL.")
        storeEpoch = gauge(registry, "folio_store_epoch", help: "The event store's epoch; it changes only after a logical restore (cursors of older epochs must refetch).")
        storeEpochs = gauge(registry, "folio_store_epochs", help: "Epochs so far; more than 1 means the database was restored from a logical dump.")
        storeNewEpochAtStart = gauge(registry, "folio_store_new_epoch_at_start", help: "1 when this process began a new epoch at start because transaction ids went backwards (a restore).")
        storeEvents = gauge(registry, "folio_store_events", help: "Events in the log (estimated past a million).")
        storeLastPosition = gauge(registry, "folio_store_last_position", help: "Largest global position in the log.")
        oldestTransactionAge = gauge(registry, "folio_db_oldest_transaction_age_seconds", help: "Age of the oldest open transaction; sync readers wait for it.")
        groupCommits = counter(registry, "folio_store_group_commits_total", help: "Group commits of appends.")
        appendCalls = counter(registry, "folio_store_append_calls_total", help: "Append calls committed (several share one group commit).")
        appendedEvents = counter(registry, "folio_store_commit_events_total", help: "Events carried by group commits (appended or duplicate).")
        poolOpen = gauge(registry, "folio_pool_connections_open", help: "Open PostgreSQL connections of the server's pool.")
        poolIdle = gauge(registry, "folio_pool_connections_idle", help: "Idle connections of the pool.")
        poolWaiting = gauge(registry, "folio_pool_waiting", help: "Callers waiting for a connection.")
        liveStreams = gauge(registry, "folio_sync_live_streams", help: "Live sync streams open now.")
        var byStatus: [AppendResult.Status: Counter] = [:]
        for status in [AppendResult.Status.appended, .duplicate, .transformed, .conflicted] {
            byStatus[status] = registry.makeCounter(descriptor: MetricNameDescriptor(
                metricName: "folio_api_events", unitName: "total", helpText: "Events posted to /v1/events, by result (conflicted = an EditConflicted was recorded)."),
                labels: [("status", status.rawValue)])
        }
        postedEvents = byStatus
        projectorLagEvents = gauge(registry, "folio_projector_lag_events", help: "Events in the log not yet in the read model.")
        projectorLagSeconds = gauge(registry, "folio_projector_lag_seconds", help: "Age of the oldest event not yet in the read model.")
        projectorActive = gauge(registry, "folio_projector_active", help: "1 when this process's projector is the active one (0: standby, stopped or rebuilding).")
        refusedBatches = counter(registry, "folio_api_refused_batches_total", help: "Batches refused as a whole (malformed, invalid, forbidden, conflicting).")
        poolMax = gauge(registry, "folio_pool_connections_max", help: "Most connections the pool opens.")
    }

    /// Reads the store's and pool's values, then renders every metric in Prometheus' text format.
    public func render(store: EventStore?, pool: ConnectionPool, liveStreams: LiveStreams? = nil, projector: Projector? = nil) async -> String {
        let statuses: [ProjectionStatus]?
        if let projector { statuses = try? await projector.status() } else { statuses = try? await Projector.status(pool: pool) }
        if let status = statuses?.first {
            projectorLagEvents.set(to: Double(status.lagEvents))
            projectorLagSeconds.set(to: status.lagSeconds)
            projectorActive.set(to: status.state == .active ? 1 : 0)
        }
        if let liveStreams { self.liveStreams.set(to: Double(liveStreams.open)) }
        let pooled = pool.statistics
        poolOpen.set(to: Double(pooled.open))
        poolIdle.set(to: Double(pooled.idle))
        poolWaiting.set(to: Double(pooled.waiting))
        poolMax.set(to: Double(pooled.maxConnections))
        if let store {
            record(store.commitStatistics)
            do {
                let status = try await store.status()
                storeEpoch.set(to: Double(status.epoch))
                storeEpochs.set(to: Double(status.epochs.count))
                storeNewEpochAtStart.set(to: status.beganNewEpochAtStart ? 1 : 0)
                storeEvents.set(to: Double(status.events))
                storeLastPosition.set(to: Double(status.lastPosition))
                oldestTransactionAge.set(to: status.oldestTransactionAge)
                databaseUp.set(to: 1)
            } catch {
                databaseUp.set(to: 0)
            }
        } else {
            databaseUp.set(to: (try? await pool.query("SELECT 1").scalar(Int.self)) == 1 ? 1 : 0)
        }
        return registry.emitToString()
    }

    func record(_ results: [AppendResult]) {
        for result in results { postedEvents[result.status]?.increment() }
    }

    private func record(_ totals: CommitStatistics) {
        let (commits, requests, events) = reportedCommits.withLock { reported in
            defer { reported = totals }
            return (totals.commits - reported.commits, totals.requests - reported.requests, totals.events - reported.events)
        }
        if commits > 0 { groupCommits.increment(by: Int64(commits)) }
        if requests > 0 { appendCalls.increment(by: Int64(requests)) }
        if events > 0 { appendedEvents.increment(by: Int64(events)) }
    }
}

private func gauge(_ registry: PrometheusCollectorRegistry, _ name: String, help: String) -> Gauge {
    registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
}

private func counter(_ registry: PrometheusCollectorRegistry, _ name: String, help: String) -> Counter {
    registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
}

/// `GET /metrics`.
struct MetricsRoutes: Sendable {
    let metrics: ServerMetrics
    let store: EventStore?
    let pool: ConnectionPool
    let liveStreams: LiveStreams
    let projector: Projector?

    func register(on router: Router<BasicRequestContext>) {
        router.get("/metrics") { _, _ in
            let text = await metrics.render(store: store, pool: pool, liveStreams: liveStreams, projector: projector)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}

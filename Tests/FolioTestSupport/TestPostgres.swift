import EmbeddedPostgres
import Foundation
import LibPQ
import Logging
import Synchronization

/// Throwaway PostgreSQL for tests: one embedded cluster per test process, started on first
/// use and stopped when the process exits, and a fresh database per test.
///
/// Clusters live below `FOLIO_TEST_TMPDIR` (set by `make test`) or the system temp folder.
public enum TestPostgres {
    /// The shared cluster of this test process; `name` picks another shared cluster, for
    /// suites that must not see other suites' open transactions (a reader of the event log
    /// waits for the oldest open transaction of the whole cluster).
    public static func shared(_ name: String = "shared") async throws -> EmbeddedPostgres.Running {
        try await SharedCluster.instance.running(name)
    }

    /// Creates an empty database on a shared cluster and returns its superuser URL.
    public static func freshDatabase(_ label: String = "t", cluster: String = "shared") async throws -> String {
        let running = try await shared(cluster)
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(UUID().uuidString.prefix(8).lowercased())"
        // CREATE DATABASE can take seconds while many clusters start: not on a cooperative thread.
        try await DedicatedThread.run("create-database") {
            let admin = try Connection(configuration: ConnectionConfiguration(running.url(database: "postgres")))
            try admin.execute("CREATE DATABASE \(quoteIdentifier(name)) TEMPLATE template0 ENCODING 'UTF8'")
        }
        return running.url(database: name)
    }

    /// A new cluster of its own (for tests that stop or restart the server). The caller
    /// starts and stops it; it is also stopped at exit.
    public static func privateCluster(_ label: String) throws -> EmbeddedPostgres {
        var options = EmbeddedPostgres.Options()
        options.durable = false
        let cluster = try EmbeddedPostgres(directory: baseDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))"), options: options)
        ClustersToStop.add(cluster)
        return cluster
    }

    /// A folder for this test process's clusters.
    public static let baseDirectory: URL = {
        let root = ProcessInfo.processInfo.environment["FOLIO_TEST_TMPDIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.temporaryDirectory.path
        let url = URL(fileURLWithPath: root).appendingPathComponent("run-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        chmod(url.path, 0o755)
        return url
    }()

    /// The connection configuration for a URL, with a short connect timeout.
    public static func configuration(_ url: String) -> ConnectionConfiguration {
        ConnectionConfiguration(url, connectTimeoutSeconds: 5, applicationName: "folio-tests")
    }
}

/// Starts the shared cluster once, whichever test asks first.
actor SharedCluster {
    static let instance = SharedCluster()
    private var tasks: [String: Task<EmbeddedPostgres.Running, any Error>] = [:]

    func running(_ name: String) async throws -> EmbeddedPostgres.Running {
        if let task = tasks[name] { return try await task.value }
        let task = Task {
            var options = EmbeddedPostgres.Options()
            options.durable = false
            let cluster = try EmbeddedPostgres(directory: TestPostgres.baseDirectory.appendingPathComponent(name), options: options)
            ClustersToStop.add(cluster)
            return try await cluster.start()
        }
        tasks[name] = task
        return try await task.value
    }
}

/// Clusters to stop when the test process exits (the Makefile also sweeps leftovers).
enum ClustersToStop {
    private static let clusters = Mutex<[EmbeddedPostgres]>([])
    private static let registered = Mutex(false)

    static func add(_ cluster: EmbeddedPostgres) {
        clusters.withLock { $0.append(cluster) }
        let first = registered.withLock { done in
            defer { done = true }
            return !done
        }
        if first {
            atexit {
                ClustersToStop.stopAll()
            }
        }
    }

    static func stopAll() {
        let all = clusters.withLock { $0 }
        for cluster in all {
            try? cluster.kill()
            try? FileManager.default.removeItem(at: cluster.directory)
        }
    }
}

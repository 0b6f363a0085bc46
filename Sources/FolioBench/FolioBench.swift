import ArgumentParser
import EmbeddedPostgres
import FolioProjector
import FolioServer
import Foundation
import LibPQ
import Logging
import Synchronization

/// Benchmarks of the libpq wrapper next to PostgreSQL's own tools (pgbench, psql COPY), on
/// the same cluster in the same run. `make bench` runs it; results go to docs/performance.md.
@main
struct FolioBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "FolioBench",
        abstract: "Measure the libpq wrapper against pgbench and psql on one PostgreSQL cluster.")

    @Option(name: .customLong("database-url"), help: "Use this database instead of starting a durable embedded cluster.")
    var databaseURL: String?

    @Option(help: "Seconds per INSERT measurement.")
    var seconds: Int = 10

    @Option(name: .customLong("copy-rows"), help: "Rows for the COPY measurements.")
    var copyRows: Int = 1_000_000

    @Option(name: .customLong("cluster-dir"), help: "Folder for the embedded cluster.")
    var clusterDirectory: String = "/tmp/folio-bench-cluster"

    @Option(help: "Rounds of the single-connection comparison (pgbench and the wrapper alternate; medians are reported).")
    var rounds: Int = 3

    @Flag(name: .customLong("single-only"), help: "Only the single-connection INSERT comparison.")
    var singleOnly = false

    @Option(name: .customLong("projector-batch"), help: "Events per transaction in the projector rebuild measurement.")
    var projectorBatch: Int = 5000

    @Option(name: .customLong("projector-article-writers"), help: "Connections writing the rebuild's article rows before the swap, in parallel.")
    var projectorArticleWriters: Int = Projector.Configuration().rebuildArticleWriters

    @Option(help: "What to measure: wrapper (the libpq wrapper), store (the event store), server (the HTTP server), client (a fresh client's full pull; --client-events sets the log size), projector (rebuild; --catch-up-events sets the log size) or core (the domain core, no database).")
    var suite: String = "wrapper"

    @Option(name: .customLong("catch-up-events"), help: "Events in the log for the store's catch-up measurement.")
    var catchUpEvents: Int = 1_000_000

    @Flag(name: .customLong("appends-only"), help: "Store suite: only the appends, not the catch-up read.")
    var appendsOnly = false

    @Option(name: .customLong("client-events"), help: "Events in the log for the client's pull measurement (--suite client).")
    var clientEvents: Int = 100_000

    func run() async throws {
        if suite == "core" {
            print(try CoreBench(rounds: max(rounds, 21)).run())
            return
        }
        LoggingSystem.bootstrap { label in
            FolioLogHandler.standardError(label: label, level: .warning)
        }
        var cluster: EmbeddedPostgres?
        let url: String
        if let databaseURL {
            url = databaseURL
        } else {
            try? FileManager.default.removeItem(atPath: clusterDirectory)
            var options = EmbeddedPostgres.Options()
            options.durable = true
            let embedded = try EmbeddedPostgres(directory: URL(fileURLWithPath: clusterDirectory), options: options)
            url = try await embedded.start().url
            cluster = embedded
        }
        defer { try? cluster?.stop() }
        if suite == "server" {
            let report = try await ServerBench(url: url, seconds: seconds, catchUpEvents: catchUpEvents, rounds: rounds).run()
            print(report.markdown(seconds: seconds))
            return
        }
        if suite == "client" {
            let homes = URL(fileURLWithPath: clusterDirectory + "-homes")
            let report = try await ClientBench(url: url, events: clientEvents, rounds: rounds, homeRoot: homes).run()
            print(report.markdown(seconds: seconds))
            return
        }
        if suite == "projector" {
            let report = try await ProjectorBench(url: url, events: catchUpEvents, batchSize: projectorBatch, articleWriters: projectorArticleWriters).run()
            print(report.markdown(seconds: seconds))
            return
        }
        if suite == "store" {
            var bench = StoreBench(url: url, seconds: seconds, catchUpEvents: catchUpEvents)
            bench.rounds = rounds
            bench.appendsOnly = appendsOnly
            let report = try await bench.run()
            print(report.markdown(seconds: seconds))
            return
        }
        let bench = Bench(url: url, seconds: seconds, copyRows: copyRows)
        try bench.prepareTables()
        var report = Report()
        report.machine = Machine.describe()
        report.server = try bench.serverVersion()
        for synchronousCommit in ["off", "on"] {
            log("synchronous_commit = \(synchronousCommit)")
            // pgbench and the wrapper alternate, so drift in the machine hits both alike.
            var pgbenchRuns: [Double] = [], wrapperRuns: [Double] = [], poolRuns: [Double] = []
            for _ in 0..<max(1, rounds) {
                pgbenchRuns.append(try bench.pgbench(clients: 1, synchronousCommit: synchronousCommit))
                wrapperRuns.append(try bench.wrapperLoop(synchronousCommit: synchronousCommit))
                poolRuns.append(try await bench.poolInserts(tasks: 1, synchronousCommit: synchronousCommit))
            }
            let pgbench1 = median(pgbenchRuns), wrapper1 = median(wrapperRuns), pool1 = median(poolRuns)
            if singleOnly {
                report.rows += [
                    .init(what: "single-row INSERT, 1 connection (median of \(rounds))", synchronousCommit: synchronousCommit, tool: "pgbench -M prepared -c 1", rate: pgbench1),
                    .init(what: "single-row INSERT, 1 connection (median of \(rounds))", synchronousCommit: synchronousCommit, tool: "wrapper, prepared, loop on one Connection", rate: wrapper1, ratio: wrapper1 / pgbench1),
                    .init(what: "single-row INSERT, 1 connection (median of \(rounds))", synchronousCommit: synchronousCommit, tool: "wrapper, ConnectionPool.withConnection per INSERT", rate: pool1, ratio: pool1 / pgbench1),
                ]
                continue
            }
            let pgbench16 = try bench.pgbench(clients: 16, synchronousCommit: synchronousCommit)
            let pool16 = try await bench.poolInserts(tasks: 16, synchronousCommit: synchronousCommit)
            let pipelined = try bench.pipelined(synchronousCommit: synchronousCommit)
            report.rows += [
                .init(what: "single-row INSERT, 1 connection (median of \(rounds))", synchronousCommit: synchronousCommit, tool: "pgbench -M prepared -c 1", rate: pgbench1),
                .init(what: "single-row INSERT, 1 connection (median of \(rounds))", synchronousCommit: synchronousCommit, tool: "wrapper, prepared, loop on one Connection", rate: wrapper1, ratio: wrapper1 / pgbench1),
                .init(what: "single-row INSERT, 1 connection (median of \(rounds))", synchronousCommit: synchronousCommit, tool: "wrapper, ConnectionPool.withConnection per INSERT", rate: pool1, ratio: pool1 / pgbench1),
                .init(what: "single-row INSERT, 16 connections", synchronousCommit: synchronousCommit, tool: "pgbench -M prepared -c 16 -j 2", rate: pgbench16),
                .init(what: "single-row INSERT, 16 connections", synchronousCommit: synchronousCommit, tool: "wrapper, 16 tasks on a pool of 16", rate: pool16, ratio: pool16 / pgbench16),
                .init(what: "pipelined INSERT, batches of 1,000", synchronousCommit: synchronousCommit, tool: "wrapper, pipeline(prepared, bindings)", rate: pipelined),
            ]
        }
        if singleOnly {
            print(report.markdown(seconds: seconds))
            return
        }
        let psqlIn = try bench.psqlCopyIn()
        let wrapperIn = try bench.wrapperCopyIn()
        let psqlOut = try bench.psqlCopyOut()
        let wrapperOut = try bench.wrapperCopyOut()
        report.rows += [
            .init(what: "COPY FROM STDIN, \(copyRows) rows", synchronousCommit: "on", tool: "psql \\copy from a file", rate: psqlIn),
            .init(what: "COPY FROM STDIN, \(copyRows) rows", synchronousCommit: "on", tool: "wrapper copyIn", rate: wrapperIn, ratio: wrapperIn / psqlIn),
            .init(what: "COPY TO STDOUT, \(copyRows) rows", synchronousCommit: "on", tool: "psql COPY … TO STDOUT > /dev/null", rate: psqlOut),
            .init(what: "COPY TO STDOUT, \(copyRows) rows", synchronousCommit: "on", tool: "wrapper copyOut", rate: wrapperOut, ratio: wrapperOut / psqlOut),
        ]
        print(report.markdown(seconds: seconds))
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("bench: \(message)\n".utf8))
}

/// The measurements. Every INSERT measurement uses the same statement as the pgbench script.
struct Bench: Sendable {
    let url: String
    let seconds: Int
    let copyRows: Int

    static let body = "नई दिल्ली: मौसम विभाग ने आज भारी बारिश की चेतावनी दी। Caption: Monsoon clouds over Delhi"
    static let insertSQL = "INSERT INTO bench_insert (n, body) VALUES ($1, '\(body)')"
    static let pgbenchScript = "\\set n random(1, 1000000)\nINSERT INTO bench_insert (n, body) VALUES (:n, '\(body)');\n"

    func connect(synchronousCommit: String = "on") throws -> Connection {
        let connection = try Connection(configuration: ConnectionConfiguration(url, applicationName: "folio-bench"))
        try connection.execute("SET synchronous_commit TO \(synchronousCommit == "on" ? "on" : "off")")
        return connection
    }

    func prepareTables() throws {
        let connection = try connect()
        try connection.execute("""
            DROP TABLE IF EXISTS bench_insert, bench_copy;
            CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int8 NOT NULL, body text NOT NULL);
            CREATE TABLE bench_copy (n int8 NOT NULL, body text NOT NULL, note text);
            """)
    }

    func serverVersion() throws -> String {
        try connect().query("SELECT version()").scalar(String.self)
    }

    private func truncateInserts() throws {
        try connect().execute("TRUNCATE bench_insert; CHECKPOINT")
    }

    /// pgbench with the same INSERT, prepared, for `seconds`; returns transactions per second.
    func pgbench(clients: Int, synchronousCommit: String) throws -> Double {
        try truncateInserts()
        let tps = try Pgbench.run(
            script: Self.pgbenchScript, name: "insert", clients: clients, seconds: seconds, url: url,
            options: "-c synchronous_commit=\(synchronousCommit)")
        log("pgbench -c \(clients): \(Int(tps)) tps")
        return tps
    }

    /// The wrapper's own cost: a loop of prepared INSERTs on one blocking Connection.
    func wrapperLoop(synchronousCommit: String) throws -> Double {
        try truncateInserts()
        let connection = try connect(synchronousCommit: synchronousCommit)
        let statement = try connection.prepare(Self.insertSQL, types: [.int8])
        var count = 0
        var generator = SplitMix64(seed: 42)
        let cpuStart = cpuMicros()
        let start = ContinuousClock.now
        let end = start + .seconds(seconds)
        var binds = PostgresBindings(capacity: 1)
        while ContinuousClock.now < end {
            binds = PostgresBindings(capacity: 1)
            binds.append(Int.random(in: 1...1_000_000, using: &generator))
            try connection.execute(statement, binds)
            count += 1
        }
        let rate = Double(count) / (ContinuousClock.now - start).seconds
        log("wrapper loop: \(Int(rate)) inserts/s, client CPU \(String(format: "%.1f", (cpuMicros() - cpuStart) / Double(count))) µs per insert")
        return rate
    }

    /// Async callers through the pool: every INSERT leases a connection and hops to a pool thread.
    func poolInserts(tasks: Int, synchronousCommit: String) async throws -> Double {
        try truncateInserts()
        let setting = synchronousCommit
        let pool = ConnectionPool(configuration: .init(
            connection: ConnectionConfiguration(url, applicationName: "folio-bench"), maxConnections: tasks,
            onConnect: { try $0.execute("SET synchronous_commit TO \(setting == "on" ? "on" : "off")") }))
        // Open every connection before timing.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks { group.addTask { try await pool.withConnection { _ = try $0.prepare(Bench.insertSQL, types: [.int8]) } } }
            try await group.waitForAll()
        }
        let seconds = self.seconds
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var count = 0
                    var generator = SplitMix64(seed: UInt64.random(in: 1...UInt64.max))
                    let end = start + .seconds(seconds)
                    while ContinuousClock.now < end {
                        let n = Int.random(in: 1...1_000_000, using: &generator)
                        try await pool.withConnection { connection in
                            var binds = PostgresBindings(capacity: 1)
                            binds.append(n)
                            try connection.execute(try connection.prepare(Bench.insertSQL, types: [.int8]), binds)
                        }
                        count += 1
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let rate = Double(total) / (ContinuousClock.now - start).seconds
        await pool.close()
        log("pool, \(tasks) tasks: \(Int(rate)) inserts/s")
        return rate
    }

    /// Batches of 1,000 INSERTs in one pipeline (one round trip, one implicit transaction).
    func pipelined(synchronousCommit: String) throws -> Double {
        try truncateInserts()
        let connection = try connect(synchronousCommit: synchronousCommit)
        let statement = try connection.prepare(Self.insertSQL, types: [.int8])
        var rows = 0
        var generator = SplitMix64(seed: 7)
        let start = ContinuousClock.now
        let end = start + .seconds(seconds)
        while ContinuousClock.now < end {
            let bindings = (0..<1000).map { _ -> PostgresBindings in
                var binds = PostgresBindings(capacity: 1)
                binds.append(Int.random(in: 1...1_000_000, using: &generator))
                return binds
            }
            rows += try connection.pipeline(statement, bindings: bindings).count
        }
        let rate = Double(rows) / (ContinuousClock.now - start).seconds
        log("pipelined: \(Int(rate)) rows/s")
        return rate
    }

    private var copyFile: URL { FileManager.default.temporaryDirectory.appendingPathComponent("folio-bench-copy.tsv") }

    private func writeCopyFile() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(copyRows * 150)
        for n in 0..<copyRows {
            CopyText.appendRow([String(n), Self.body, n % 10 == 0 ? nil : "note \(n)"], to: &buffer)
        }
        try Data(buffer).write(to: copyFile)
    }

    /// psql's `\copy … from FILE`: the COPY FROM STDIN rate of PostgreSQL's own client.
    func psqlCopyIn() throws -> Double {
        try writeCopyFile()
        try connect().execute("TRUNCATE bench_copy")
        let start = ContinuousClock.now
        let outcome = try Subprocess.run(Tools.path("psql"), [url, "-v", "ON_ERROR_STOP=1", "-qc", "\\copy bench_copy FROM '\(copyFile.path)'"], environment: ProcessInfo.processInfo.environment)
        guard outcome.status == 0 else { throw ValidationError("psql failed: \(outcome.output)") }
        let rate = Double(copyRows) / (ContinuousClock.now - start).seconds
        log("psql copy in: \(Int(rate)) rows/s")
        return rate
    }

    /// The wrapper's copyIn, formatting each row with CopyText (as a real caller would).
    func wrapperCopyIn() throws -> Double {
        let connection = try connect()
        try connection.execute("TRUNCATE bench_copy")
        let rows = copyRows
        let start = ContinuousClock.now
        try connection.copyIn("COPY bench_copy FROM STDIN") { writer in
            for n in 0..<rows {
                try writer.writeRow([String(n), Bench.body, n % 10 == 0 ? nil : "note \(n)"])
            }
        }
        let rate = Double(copyRows) / (ContinuousClock.now - start).seconds
        log("wrapper copy in: \(Int(rate)) rows/s")
        return rate
    }

    func psqlCopyOut() throws -> Double {
        let start = ContinuousClock.now
        let outcome = try Subprocess.run("/bin/sh", ["-c", "\"$0\" \"$1\" -qc 'COPY bench_copy TO STDOUT' > /dev/null", Tools.path("psql"), url], environment: ProcessInfo.processInfo.environment)
        guard outcome.status == 0 else { throw ValidationError("psql failed: \(outcome.output)") }
        let rate = Double(copyRows) / (ContinuousClock.now - start).seconds
        log("psql copy out: \(Int(rate)) rows/s")
        return rate
    }

    func wrapperCopyOut() throws -> Double {
        let connection = try connect()
        var bytes = 0
        let start = ContinuousClock.now
        let rows = try connection.copyOut("COPY bench_copy TO STDOUT") { row in bytes += row.count }
        let rate = Double(rows) / (ContinuousClock.now - start).seconds
        log("wrapper copy out: \(Int(rate)) rows/s (\(bytes) bytes)")
        return rate
    }
}

/// A cheap deterministic generator, like pgbench's own (the system generator makes a
/// `getrandom` system call per number, which would be measured as wrapper cost).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// User plus system CPU time of this process, in microseconds.
func cpuMicros() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

/// pgbench with a custom script, prepared statements, for a number of seconds.
enum Pgbench {
    /// Runs `script` and returns the transactions per second pgbench reports.
    static func run(script: String, name: String, clients: Int, seconds: Int, url: String, options: String? = nil) throws -> Double {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("folio-bench-\(name).sql")
        try script.write(to: file, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        if let options { environment["PGOPTIONS"] = options }
        let outcome = try Subprocess.run(
            Tools.path("pgbench"),
            ["-n", "-M", "prepared", "-c", String(clients), "-j", String(min(clients, 2)), "-T", String(seconds), "-f", file.path, url],
            environment: environment)
        guard outcome.status == 0,
            let line = outcome.output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst(6).split(separator: " ").first ?? "")
        else {
            throw ValidationError("pgbench failed: \(outcome.output)")
        }
        return tps
    }
}

enum Tools {
    /// A PostgreSQL client program: on PATH, else from Debian's versioned folder.
    static func path(_ name: String) -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Double($0) ?? 0) > (Double($1) ?? 0) }) {
            let candidate = "/usr/lib/postgresql/\(version)/bin/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return name
    }
}

enum Machine {
    static func describe() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let memory = ProcessInfo.processInfo.physicalMemory / (1 << 30)
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), \(memory) GiB"
    }
}

struct Report {
    struct Row {
        var what: String
        var synchronousCommit: String
        var tool: String
        var rate: Double
        var ratio: Double?
    }

    var machine = ""
    var server = ""
    var rows: [Row] = []

    func markdown(seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        var lines = [
            "Run: \(formatter.string(from: Date())) · machine: \(machine) · \(server.split(separator: ",").first ?? "")",
            "INSERT measurements run \(seconds) s each; rates are rows (= transactions for single-row INSERTs) per second.",
            "",
            "| measurement | synchronous_commit | tool | rate /s | vs. PostgreSQL's tool |",
            "| --- | --- | --- | ---: | ---: |",
        ]
        for row in rows {
            let ratio = row.ratio.map { String(format: "%.0f %%", $0 * 100) } ?? ""
            lines.append("| \(row.what) | \(row.synchronousCommit) | \(row.tool) | \(Int(row.rate.rounded())) | \(ratio) |")
        }
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

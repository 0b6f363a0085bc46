import ArgumentParser
import FolioProjector
import FolioStore
import Foundation
import LibPQ
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `folio projections status | rebuild [NAME] | run`: the read models (SPEC §6).
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Read models: status, rebuild without downtime, run the projector.",
        subcommands: [Status.self, Rebuild.self, Run.self])

    /// A started store and a projector on the database of `options`.
    static func withProjector(
        _ options: DatabaseOptions, projectorConfiguration: Projector.Configuration = Projector.Configuration(),
        _ body: (Projector) async throws -> Void
    ) async throws {
        try await withDatabase(options, maxConnections: 6, configure: { try StoreSession.configure($0) }) { pool in
            let store = EventStore(pool: pool)
            try await store.start()
            let projector = Projector(pool: pool, store: store, configuration: projectorConfiguration)
            do {
                try await body(projector)
            } catch {
                await store.stop()
                throw error
            }
            await store.stop()
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each read model: version, state, position and lag.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withDatabase(database, configure: { try StoreSession.configure($0) }) { pool in
                let statuses = try await Projector.status(pool: pool)
                if json {
                    printJSON(["projections": statuses])
                    return
                }
                for status in statuses {
                    say("\(status.name)  \(status.state.rawValue)")
                    say("  version      \(status.version)\(status.activeVersion.map { $0 == status.version ? "" : " (active generation built by version \($0): will rebuild)" } ?? " (not built yet)")")
                    say("  generation   \(status.generation.map(String.init) ?? "-")")
                    say("  position     \(status.cursor ?? "-")  (\(status.events) events applied)")
                    say(String(format: "  lag          %d events, %.1f s", status.lagEvents, status.lagSeconds))
                    if let building = status.rebuildingGeneration {
                        say("  rebuilding   generation \(building), \(status.rebuildingEvents ?? 0) events so far")
                    }
                }
            }
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a read model from the start of the log into a new generation, then swap it in.",
            discussion: "The current read model keeps serving meanwhile; the command returns after the swap.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The read model (default: all; there is one, `articles`).") var name: String?
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            if let name, name != Projector.name {
                FileHandle.standardError.write(Data("folio: error: \(ProjectorError.unknownProjection(name))\n".utf8))
                throw ExitCode(ExitStatus.usage)
            }
            let terminal = isatty(STDERR_FILENO) == 1 && !json
            let printer = ProgressPrinter(terminal: terminal, quiet: json)
            try await ProjectionsCommand.withProjector(database) { projector in
                let report = try await projector.rebuild { printer.show($0) }
                printer.finish()
                if json {
                    printJSON(report)
                } else {
                    say("rebuilt \(report.name): generation \(report.generation) with \(report.events) events in \(String(format: "%.1f", report.seconds)) s (\(Int(report.eventsPerSecond)) events/s), swapped in at \(report.cursor)")
                }
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the projector in the foreground until SIGTERM or SIGINT (standby while another process is active).")
        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("batch-size"), help: "Most events per transaction.") var batchSize = 1000
        @Option(name: .customLong("pause-before-commit-ms"), help: .hidden) var pauseBeforeCommit: Int?

        func run() async throws {
            var configuration = Projector.Configuration()
            configuration.batchSize = max(1, batchSize)
            configuration.onStateChange = { state in say("projector \(state.rawValue)") }
            if let pause = pauseBeforeCommit {
                configuration.beforeCommit = { events in
                    say("batch of \(events) written, committing")
                    usleep(useconds_t(max(0, pause) * 1000))
                }
            }
            try await ProjectionsCommand.withProjector(database, projectorConfiguration: configuration) { projector in
                let task = Task { try await projector.run() }
                let signals = SignalWaiter.install([SIGTERM, SIGINT])
                await signals.wait()
                task.cancel()
                _ = await task.result
                say("projector stopped")
            }
        }
    }
}

/// Progress of a rebuild: a bar on a terminal, plain lines every two seconds otherwise.
final class ProgressPrinter: Sendable {
    let terminal: Bool
    let quiet: Bool
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(terminal: Bool, quiet: Bool) {
        self.terminal = terminal
        self.quiet = quiet
    }

    func show(_ progress: RebuildProgress) {
        guard !quiet else { return }
        let now = ContinuousClock.now
        let due = last.withLock { last in
            let interval: Duration = terminal ? .milliseconds(100) : .seconds(2)
            if let previous = last, now - previous < interval { return false }
            last = now
            return true
        }
        guard due || progress.waitingForLog else { return }
        if progress.waitingForLog {
            let line = "rebuild \(progress.name): \(progress.events) events folded; waiting for an open transaction to end (the log's read horizon is held back)"
            if terminal { FileHandle.standardError.write(Data("\r\(line)\n".utf8)) } else { say(line) }
            return
        }
        let eta = progress.secondsLeft.map { String(format: "ETA %.0f s", $0) } ?? "ETA ?"
        let rate = "\(Int(progress.rate)) events/s"
        if terminal {
            let fraction = progress.total > 0 ? min(1, Double(progress.events) / Double(progress.total)) : 0
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(String(format: "%3.0f", fraction * 100)) %  \(progress.events)/\(progress.total)  \(rate)  \(eta)   ".utf8))
        } else {
            say("rebuild \(progress.name): \(progress.events)/\(progress.total) events, \(rate), \(eta)")
        }
    }

    func finish() {
        if terminal && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Waits for one of some signals (which no longer end the process by default).
final class SignalWaiter {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    private init(_ signals: [Int32]) {
        (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let continuation = self.continuation
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    static func install(_ signals: [Int32]) -> SignalWaiter { SignalWaiter(signals) }

    /// The signals as they arrive (for waiting in another task; keep the waiter alive).
    var received: AsyncStream<Int32> { stream }

    /// Returns at the first signal.
    func wait() async {
        for await _ in stream { return }
    }
}

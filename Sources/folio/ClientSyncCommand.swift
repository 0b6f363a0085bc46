import ArgumentParser
import FolioClient
import Foundation

/// `folio sync [--follow]`: push the outbox, pull until up to date.
struct ClientSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Push the outbox and pull until up to date; --follow stays live.")

    @OptionGroup var options: ClientOptions
    @Flag(help: "Stay connected: pull new events as they come and push local ones.") var follow = false

    func run() async throws {
        let showProgress = stderrIsTerminal && !options.json
        let progress: (@Sendable (Int) -> Void)? = showProgress ? ProgressLine.update : nil
        let report = try await withWorkspace(options) { workspace in
            let client = SyncClient(replica: workspace.replica, progress: progress)
            if follow {
                try await Self.follow(client, json: options.json)
                return SyncReport()
            }
            let report = try await client.sync()
            if showProgress { ProgressLine.finish() }
            return report
        }
        if options.json {
            struct Output: Encodable { var pushed: Int; var pulled: Int; var conflicts: [Conflict]; var rejected: Int }
            printJSON(Output(pushed: report.pushed, pulled: report.pulled, conflicts: report.conflicts, rejected: report.rejected))
        } else {
            say("pushed \(report.pushed), pulled \(report.pulled)")
            for conflict in report.conflicts {
                say("conflict: your edit \(conflict.eventId) of article \(conflict.articleId.prefix(8)) (based on revision \(conflict.baseRevision)) conflicts with revision(s) \(conflict.conflictsWith.map(String.init).joined(separator: ", ")); it was not applied")
            }
            if report.rejected > 0 { say("\(report.rejected) event(s) refused by the server; see folio status") }
        }
        if report.rejected > 0 { throw ExitCode(ExitStatus.notAllowed) }
    }

    /// Follows until SIGINT or SIGTERM (then stops cleanly: the current page is committed or
    /// not at all, the outbox is untouched, exit 0) or until an error that retrying cannot
    /// mend (e.g. a refused token), which is thrown.
    static func follow(_ client: SyncClient, json: Bool) async throws {
        let signals = SignalWaiter.install([SIGINT, SIGTERM])
        let received = signals.received
        enum End: Sendable { case signal, finished, failed(any Error) }
        let end = await withTaskGroup(of: End.self) { group in
            group.addTask {
                for await _ in received { return .signal }
                return .finished
            }
            group.addTask {
                do {
                    try await client.follow { line in
                        if json {
                            struct Line: Encodable { var message: String }
                            printJSON(Line(message: line))
                        } else {
                            say(line)
                        }
                    }
                    return .finished
                } catch {
                    return .failed(error)
                }
            }
            // The first to finish decides: a signal, or follow's own end.
            let first = await group.next() ?? .finished
            group.cancelAll()
            await group.waitForAll()
            return first
        }
        withExtendedLifetime(signals) {}
        if case .failed(let error) = end { throw error }
        if json {
            struct Line: Encodable { var message: String }
            printJSON(Line(message: "stopped"))
        } else {
            say("stopped")
        }
    }
}

/// A one-line progress display on stderr for long pulls.
enum ProgressLine {
    private static let start = Date()

    @Sendable static func update(_ count: Int) {
        let elapsed = max(Date().timeIntervalSince(start), 0.001)
        FileHandle.standardError.write(Data("\rpulling: \(count) events (\(Int(Double(count) / elapsed))/s)\u{1B}[K".utf8))
    }

    static func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

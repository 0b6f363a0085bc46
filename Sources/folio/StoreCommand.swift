import ArgumentParser
import FolioStore
import Foundation
import LibPQ

/// `folio store status`: the event store as operators see it (epochs, size, open transactions).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect the event store.",
        subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the store's epoch (and every earlier one), its size and the oldest open transaction.",
            discussion: """
                Starts the store as `folio serve` does: if the database was restored from a \
                logical dump, the store begins a new epoch now and says so (G6). More than one \
                epoch means that happened at least once; clients with cursors of an older epoch \
                refetch.
                """)
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withDatabase(database, configure: { try StoreSession.configure($0) }) { pool in
                var configuration = EventStore.Configuration()
                configuration.listen = false
                let store = EventStore(pool: pool, configuration: configuration)
                try await store.start()
                let status = try await store.status()
                if json {
                    printJSON(status)
                    return
                }
                let restored = status.epochs.count > 1
                say("epoch            \(status.epoch)\(restored ? "  (the database was restored \(status.epochs.count - 1) time(s); older cursors must refetch)" : "")")
                if status.beganNewEpochAtStart {
                    say("NEW EPOCH began now: \(status.currentEpoch?.reason ?? "transaction ids went backwards")")
                }
                say("events           \(status.events)")
                say("last position    \(status.lastPosition)")
                say(String(format: "oldest open txn  %.1f s", status.oldestTransactionAge))
                say("epochs:")
                for record in status.epochs {
                    say("  \(record.epoch)  \(Self.format(record.startedAt))  \(record.reason)")
                }
            }
        }

        static func format(_ date: Date) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(from: date)
        }
    }
}

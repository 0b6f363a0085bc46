import ArgumentParser
import FolioServer
import Foundation
import Logging

/// `folio`: server, admin and client subcommands. This target only parses arguments; the
/// work happens in the modules.
@main
struct Folio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "folio",
        abstract: "Offline-first, event-sourced sync of articles and annotations.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, StoreCommand.self, TokensCommand.self, ProjectionsCommand.self,
            ClientLoginCommand.self, ClientImportCommand.self, ClientListCommand.self, ClientShowCommand.self, ClientEditCommand.self,
            ClientAnnotateCommand.self, ClientAnnotationsCommand.self, ClientLogCommand.self, ClientDiffCommand.self,
            ClientStatusCommand.self, ClientSyncCommand.self,
        ])

    static func main() async {
        bootstrapLogging()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["FOLIO_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            FolioLogHandler.standardError(label: label, level: level)
        }
    }
}

import ArgumentParser
import FolioServer
import Foundation
import LibPQ

/// `folio tokens create --name N --role R | list | revoke NAME`.
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Create, list and revoke API tokens.",
        discussion: """
            A token is 256 random bits, shown once when created; only its SHA-256 is stored. \
            Roles: reader (read and sync), annotator (+ annotations), editor (+ articles and \
            anyone's annotations), admin (everything).
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it (once).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "A name for the token (who or what uses it).") var name: String
        @Option(help: "reader, annotator, editor or admin.") var role: String
        @Flag(help: "Print one JSON document.") var json = false

        func validate() throws {
            guard Role(rawValue: role) != nil else {
                throw ValidationError("--role must be one of reader, annotator, editor, admin; got \(role)")
            }
        }

        func run() async throws {
            try await withDatabase(database) { pool in
                let role = Role(rawValue: role)!
                let token = try await tokenCall { try await TokenStore(pool: pool).create(name: name, role: role) }
                if json {
                    printJSON(["name": name, "role": role.rawValue, "token": token])
                } else {
                    say(token)
                    FileHandle.standardError.write(Data("folio: created token \"\(name)\" (\(role.rawValue)); it is not shown again\n".utf8))
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Include revoked tokens.") var all = false
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withDatabase(database) { pool in
                let records = try await TokenStore(pool: pool).list(includeRevoked: all)
                if json {
                    printJSON(["tokens": records])
                    return
                }
                if records.isEmpty { say("No tokens.") }
                for record in records {
                    let revoked = record.revokedAt.map { "  revoked \(StoreCommand.Status.format($0))" } ?? ""
                    say("\(record.name.padding(toLength: max(20, record.name.count), withPad: " ", startingAt: 0))  \(record.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))  created \(StoreCommand.Status.format(record.createdAt))\(revoked)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke the live token with this name.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The token's name.") var name: String
        @Flag(help: "Print one JSON document.") var json = false

        func run() async throws {
            try await withDatabase(database) { pool in
                try await tokenCall { try await TokenStore(pool: pool).revoke(name: name) }
                if json { printJSON(Revoked(name: name, revoked: true)) } else { say("revoked \(name)") }
            }
        }
    }
}

private struct Revoked: Encodable {
    var name: String
    var revoked: Bool
}

/// Runs a token operation; its refusals are bad input (exit 65).
private func tokenCall<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as TokenError {
        FileHandle.standardError.write(Data("folio: error: \(error)\n".utf8))
        throw ExitCode(ExitStatus.badInput)
    }
}

import Foundation

/// Why a client command failed, with the exit code of SPEC §6 it maps to.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// A flag or argument combination that makes no sense (exit 64).
    case usage(String)
    /// Input the command cannot use: a quote not found, an ambiguous name, a bad file (exit 65).
    case badInput(String)
    /// No article answers to the name (exit 65).
    case noSuchArticle(String)
    /// The name matches several articles (exit 65).
    case ambiguousArticle(name: String, candidates: [String])
    /// The server could not be reached or answered 5xx; local changes stay queued (exit 69).
    case unreachable(server: String, reason: String)
    /// The server refused the token or the role (exit 77).
    case notAllowed(String)
    /// `login` has not been run for this home (exit 64).
    case notLoggedIn
    /// The replica database failed (exit 1).
    case storage(String)
    /// The server answered something the client does not understand (exit 1).
    case protocolError(String)

    /// The exit code of SPEC §6.
    public var exitCode: Int32 {
        switch self {
        case .usage, .notLoggedIn: return 64
        case .badInput, .noSuchArticle, .ambiguousArticle: return 65
        case .unreachable: return 69
        case .notAllowed: return 77
        case .storage, .protocolError: return 1
        }
    }

    public var description: String {
        switch self {
        case .usage(let message): return message
        case .badInput(let message): return message
        case .noSuchArticle(let name): return "no article named \"\(name)\" in the replica"
        case .ambiguousArticle(let name, let candidates):
            return "\"\(name)\" names several articles: \(candidates.joined(separator: ", "))"
        case .unreachable(let server, let reason): return "server \(server) unreachable (\(reason)); local changes stay queued"
        case .notAllowed(let message): return message
        case .notLoggedIn: return "no server configured; run `folio login --server URL --token T` first"
        case .storage(let message): return "replica: \(message)"
        case .protocolError(let message): return "unexpected server answer: \(message)"
        }
    }
}

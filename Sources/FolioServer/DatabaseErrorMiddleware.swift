import Hummingbird
import LibPQ

/// Turns database failures that escape a handler into SPEC §5's answers: 503 with
/// `Retry-After` while PostgreSQL is unreachable (or a statement timed out), so clients back
/// off and retry; other database errors become a 500 in the same JSON shape, never a stack
/// of libpq text.
struct DatabaseErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PostgresError {
            if error.isConnectionError { throw APIError.databaseUnavailable("\(error)") }
            if case .poolTimeout = error { throw APIError(status: .serviceUnavailable, code: "busy", message: "no database connection was free in time", retryAfter: 1) }
            if error.sqlState == "57014" { throw APIError(status: .serviceUnavailable, code: "timeout", message: "the database took too long", retryAfter: 1) }
            context.logger.error("database error", metadata: ["error": "\(error)"])
            throw APIError(status: .internalServerError, code: "internal", message: "the database refused the request")
        }
    }
}
